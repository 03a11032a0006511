package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// httpURL is the test server's base URL for plain HTTP.
func (ts *testServer) httpURL() string { return "http" + strings.TrimPrefix(ts.url, "ws") }

// viaHost returns a client that sends every request to the test server
// whatever host its URL names, as Kong sends the 2.x server's requests to
// realtime-dev.supabase-realtime.
func (ts *testServer) viaHost() *http.Client {
	addr := strings.TrimPrefix(ts.httpURL(), "http://")
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
}

func do(t *testing.T, c *http.Client, method, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(`{"messages":[{"topic":"room","event":"e","payload":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTenantFromHost(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.TenantFromHost = true })
	hc := ts.viaHost()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://realtime-dev.supabase-realtime:4000/socket/websocket?vsn=2.0.0", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("socket for the configured tenant: %v", err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	for _, tc := range []struct {
		method, url string
		status      int
		body        string
	}{
		{"GET", "http://other.supabase-realtime:4000/socket/websocket", 404, `{"error":"Tenant not found"}`},
		{"GET", "http://localhost:4000/realtime/v1/websocket", 404, `{"error":"Tenant not found"}`},
		{"POST", "http://other.example.com/api/broadcast", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://Realtime-Dev.example.com:4000/api/broadcast", 202, ""},
		{"POST", "http://realtime-dev/realtime/v1/api/broadcast", 202, ""},
		// Not tenant-scoped in the 2.x server either.
		{"GET", "http://other.example.com/health", 200, `"live":true`},
	} {
		status, body := do(t, hc, tc.method, tc.url, nil)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.url, status, body, tc.status, tc.body)
		}
	}
}

func TestTenantHostIgnoredByDefault(t *testing.T) {
	ts := newTestServer(t, nil)
	if status, body := do(t, ts.viaHost(), "POST", "http://anything.example.com/api/broadcast", nil); status != http.StatusAccepted {
		t.Fatalf("broadcast on any host without SEED_SELF_HOST: %d %s", status, body)
	}
}

func TestTenantHealth(t *testing.T) {
	const secret = "super-secret-jwt-token-with-at-least-32-characters"
	ts := newTestServer(t, func(c *Options) { c.SecureChannels, c.JWTSecret, c.TenantFromHost = true, secret, true })
	anon, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon", "iss": "supabase", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon"}).SignedString([]byte("another-secret-another-secret-another"))
	url := ts.httpURL() + "/api/tenants/realtime-dev/health"
	for _, tc := range []struct {
		name, method, url, auth string
		status                  int
	}{
		{"no token", "GET", url, "", 403},
		{"not bearer", "GET", url, anon, 403},
		{"wrong secret", "GET", url, "Bearer " + forged, 403},
		{"other tenant", "GET", ts.httpURL() + "/api/tenants/acme/health", "Bearer " + anon, 404},
		{"compose check (curl --head)", "HEAD", url, "Bearer " + anon, 200},
		{"GET", "GET", url, "Bearer " + anon, 200},
	} {
		status, body := do(t, http.DefaultClient, tc.method, tc.url, map[string]string{"Authorization": tc.auth})
		if status != tc.status {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.url, status, body, tc.status)
		}
		switch {
		case status == 403 && body != "":
			t.Errorf("%s: 403 with body %q, want none as from the original", tc.name, body)
		case status == 404 && body != `{"message":"not found"}`+"\n":
			t.Errorf("%s: 404 body %q", tc.name, body)
		case status == 200 && tc.method == "GET":
			var got struct {
				Data map[string]any `json:"data"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%s: %v: %s", tc.name, err, body)
			}
			for _, k := range []string{"healthy", "db_connected", "replication_connected", "connected_cluster", "region", "node"} {
				if _, ok := got.Data[k]; !ok {
					t.Errorf("%s: data lacks %q: %s", tc.name, k, body)
				}
			}
			if got.Data["healthy"] != true {
				t.Errorf("%s: not healthy: %s", tc.name, body)
			}
		}
	}
}
