package gateway

import (
	"strings"
	"testing"
	"testing/synctest"
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
	return newTestServer(t, func(c *Options) { c.SecureChannels, c.JWTSecret = true, testSecret })
}

// securePipeServer is secureServer for a synctest bubble.
func securePipeServer(t *testing.T) *testServer {
	return newPipeServer(t, func(c *Options) { c.SecureChannels, c.JWTSecret = true, testSecret })
}

// A v1 topic channel whose token expires gets phx_error with its join ref,
// as the original's invalid_access_token stop. The clock is synctest's, so
// the test checks the exact instant without waiting for it.
func TestExpiryClosesTopicChannel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ts := securePipeServer(t)
		long := signed(t, time.Now().Add(time.Hour))
		c := ts.dial(t, "vsn=1.0.0&apikey="+long)
		// exp has whole seconds.
		exp := time.Unix(time.Now().Add(time.Second).Unix(), 0)
		short := signed(t, exp)
		c.send(`{"topic":"realtime:public:service","event":"phx_join","payload":{"user_token":"` + short + `"},"ref":"1","join_ref":"1"}`)
		if status, _ := reply(c.read()); status != "ok" {
			t.Fatal("join refused")
		}
		m := c.read()
		if m["event"] != "phx_error" || m["ref"] != "1" || m["topic"] != "realtime:public:service" {
			t.Fatalf("on expiry got %v", m)
		}
		// On exp, not exp plus a grace: the leeway is for nbf and iat only.
		if now := time.Now(); !now.Equal(exp) {
			t.Fatalf("channel closed at %v, token expired at %v", now, exp)
		}
		ts.hub.Route(serviceUpdate("1", "1", "2"))
		c.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"9"}`)
		if m := c.read(); m["event"] != "phx_reply" {
			t.Fatalf("a change reached an expired channel: %v", m)
		}
	})
}

// On a config channel, a refresh with a valid token moves the expiry; an
// invalid refresh closes the channel with a system message and phx_close.
func TestRefreshExtendsAndInvalidRefreshCloses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ts := securePipeServer(t)
		long := signed(t, time.Now().Add(time.Hour))
		c := ts.dial(t, "vsn=2.0.0&apikey="+long)
		short := signed(t, time.Now().Add(time.Second))
		c.send(`["1","1","realtime:room1","phx_join",{"config":{},"access_token":"` + short + `"}]`)
		if _, _, _, _, p := c.readV2(); p["status"] != "ok" {
			t.Fatalf("join: %v", p)
		}
		c.send(`["1","2","realtime:room1","access_token",{"access_token":"` + signed(t, time.Now().Add(time.Hour)) + `"}]`)
		// Past the old expiry (on the bubble's clock) the channel must
		// still be joined.
		time.Sleep(2 * time.Second)
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
	})
}

func signClaims(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Channel tokens need role and exp, refused with the original's reason;
// exp has no grace (a token expired two seconds ago is refused although
// iat and nbf get five seconds of leeway).
func TestJoinTokenRequirements(t *testing.T) {
	t.Parallel()
	ts := secureServer(t)
	long := signed(t, time.Now().Add(time.Hour))
	hour := time.Now().Add(time.Hour).Unix()
	for name, tc := range map[string]struct {
		claims jwt.MapClaims
		reason string
	}{
		"no role":      {jwt.MapClaims{"exp": hour}, "InvalidJWTToken: Fields `role` and `exp` are required in JWT"},
		"no exp":       {jwt.MapClaims{"role": "anon"}, "InvalidJWTToken: Fields `role` and `exp` are required in JWT"},
		"empty role":   {jwt.MapClaims{"role": "", "exp": hour}, "InvalidJWTToken: Fields `role` and `exp` are required in JWT"},
		"expired 2s":   {jwt.MapClaims{"role": "anon", "exp": time.Now().Add(-2 * time.Second).Unix()}, "InvalidJWTToken: Token has expired"},
		"iat in 2s ok": {jwt.MapClaims{"role": "anon", "exp": hour, "iat": time.Now().Add(2 * time.Second).Unix()}, ""},
		"nbf in 2s ok": {jwt.MapClaims{"role": "anon", "exp": hour, "nbf": time.Now().Add(2 * time.Second).Unix()}, ""},
		"role and exp": {jwt.MapClaims{"role": "authenticated", "exp": hour, "sub": "u1"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t, "vsn=1.0.0&apikey="+long)
			c.send(`{"topic":"realtime:public:service","event":"phx_join","payload":{"user_token":"` + signClaims(t, tc.claims) + `"},"ref":"1","join_ref":"1"}`)
			status, resp := reply(c.read())
			if tc.reason == "" {
				if status != "ok" {
					t.Fatalf("join refused: %v", resp)
				}
				return
			}
			if reason, _ := resp["reason"].(string); status != "error" || !strings.HasPrefix(reason, tc.reason) {
				t.Fatalf("join = %s %v, want error %q", status, resp, tc.reason)
			}
		})
	}
}
