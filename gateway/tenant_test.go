package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// TestTenantFromHost checks the socket's tenant check, and that the API's
// (gateway/httpapi, tested there) guards the API routes as mounted.
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
		{"GET", "http://other.example.com/realtime/v1/nothing", 404, `{"error":"Tenant not found"}`},
		{"POST", "http://other.example.com/api/broadcast", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://other.example.com/realtime/v1/api/broadcast", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://realtime-dev/realtime/v1/api/broadcast", 202, ""},
		// Not tenant-scoped in the 2.x server either.
		{"GET", "http://other.example.com/health", 200, `"live":true`},
	} {
		status, body := do(t, hc, tc.method, tc.url, nil)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.url, status, body, tc.status, tc.body)
		}
	}
	if n := ts.srv.refused.Load(); n != 3 {
		t.Errorf("refused connections = %d, want the 3 refused socket paths", n)
	}
}
