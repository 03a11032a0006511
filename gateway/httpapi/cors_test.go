package httpapi

import (
	"net/http"
	"testing"
)

func preflight(t *testing.T, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, apikey, content-type, x-client-info")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORSAnyOriginByDefault(t *testing.T) {
	ta := newTestAPI(t, Config{}, nil)
	for _, path := range []string{"/api/broadcast", "/realtime/v1/api/broadcast", "/api/tenants/realtime-dev/health"} {
		resp := preflight(t, ta.url+path, "https://app.example.com")
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
			h.Get("Access-Control-Allow-Headers") != "authorization, apikey, content-type, x-client-info" ||
			h.Get("Access-Control-Allow-Methods") == "" {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, h)
		}
	}
	status, _, _ := post(t, http.DefaultClient, ta.url+"/api/broadcast", `{"messages":[]}`, map[string]string{"Origin": "https://app.example.com"})
	if status != http.StatusAccepted {
		t.Fatalf("broadcast with an Origin: %d", status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ta.url+"/api/broadcast", nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("response to a cross-origin POST: Access-Control-Allow-Origin %q, want *", got)
	}
	// The socket is not the API's: no CORS headers there.
	req, _ = http.NewRequestWithContext(t.Context(), "GET", ta.url+"/socket/websocket", nil)
	req.Header.Set("Origin", "https://app.example.com")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("socket route: Access-Control-Allow-Origin %q, want none", got)
	}
}

func TestCORSConfiguredOrigins(t *testing.T) {
	ta := newTestAPI(t, Config{CORSOrigins: []string{"https://app.example.com"}}, nil)
	resp := preflight(t, ta.url+"/api/broadcast", "https://app.example.com")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("Vary") == "" {
		t.Errorf("allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	resp = preflight(t, ta.url+"/api/broadcast", "https://evil.example.com")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %d %v", resp.StatusCode, resp.Header)
	}
}
