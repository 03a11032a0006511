package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "super-secret-jwt-token-with-at-least-32-characters"

func signed(t *testing.T, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon", "exp": exp.Unix()}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func secureServer(t *testing.T) *testServer {
	return newTestServer(t, func(c *Config) { c.SecureChannels, c.JWTSecret = true, testSecret })
}

// A v1 topic channel whose token expires gets phx_error with its join ref,
// as the original's invalid_access_token stop.
func TestExpiryClosesV1Channel(t *testing.T) {
	t.Parallel()
	ts := secureServer(t)
	long := signed(t, time.Now().Add(time.Hour))
	c := ts.dial(t, "vsn=1.0.0&apikey="+long)
	short := signed(t, time.Now().Add(time.Second))
	c.send(`{"topic":"realtime:public:service","event":"phx_join","payload":{"user_token":"` + short + `"},"ref":"1","join_ref":"1"}`)
	if status, _ := reply(c.read()); status != "ok" {
		t.Fatal("join refused")
	}
	start := time.Now()
	m := c.read()
	if m["event"] != "phx_error" || m["ref"] != "1" || m["topic"] != "realtime:public:service" {
		t.Fatalf("on expiry got %v", m)
	}
	if waited := time.Since(start); waited > leeway+3*time.Second {
		t.Fatalf("expiry took %v", waited)
	}
	ts.hub.Route(serviceUpdate("1", "1", "2"))
	c.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"9"}`)
	if m := c.read(); m["event"] != "phx_reply" {
		t.Fatalf("a change reached an expired channel: %v", m)
	}
}

// On a config channel, a refresh with a valid token moves the expiry; an
// invalid refresh closes the channel with a system message and phx_close.
func TestRefreshExtendsAndInvalidRefreshCloses(t *testing.T) {
	t.Parallel()
	ts := secureServer(t)
	long := signed(t, time.Now().Add(time.Hour))
	c := ts.dial(t, "vsn=2.0.0&apikey="+long)
	short := signed(t, time.Now().Add(time.Second))
	c.send(`["1","1","realtime:room1","phx_join",{"config":{},"access_token":"` + short + `"}]`)
	if _, _, _, _, p := c.readV2(); p["status"] != "ok" {
		t.Fatalf("join: %v", p)
	}
	c.send(`["1","2","realtime:room1","access_token",{"access_token":"` + signed(t, time.Now().Add(time.Hour)) + `"}]`)
	// Past the old expiry (and its leeway) the channel must still be joined.
	time.Sleep(leeway + 2*time.Second)
	c.send(`["1","3","realtime:room1","broadcast",{"type":"broadcast","event":"x","payload":{}}]`)
	c.send(`[null,"4","phoenix","heartbeat",{}]`)
	if _, ref, _, event, p := c.readV2(); event != "phx_reply" || ref != "4" || p["status"] != "ok" {
		t.Fatalf("after refresh: %v %s %v", ref, event, p)
	}
	c.send(`["1","5","realtime:room1","access_token",{"access_token":"garbage"}]`)
	_, _, _, event, p := c.readV2()
	if event != "system" || p["status"] != "error" || !strings.Contains(p["message"].(string), "JWT") {
		t.Fatalf("invalid refresh: %s %v", event, p)
	}
	if jr, ref, _, event, _ := c.readV2(); event != "phx_close" || jr != "1" || ref != "1" {
		t.Fatalf("after system error: %v %v %s", jr, ref, event)
	}
	c.send(`["1","6","realtime:room1","broadcast",{"type":"broadcast","event":"x","payload":{}}]`)
	if _, _, _, _, p := c.readV2(); p["status"] != "error" {
		t.Fatalf("closed channel still joined: %v", p)
	}
}
