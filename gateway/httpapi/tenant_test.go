package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const batch = `{"messages":[{"topic":"room","event":"e","payload":{}}]}`

func TestTenantFromHost(t *testing.T) {
	ta := newTestAPI(t, Config{TenantFromHost: true}, nil)
	hc := ta.viaHost()
	for _, tc := range []struct {
		method, url string
		status      int
		body        string
	}{
		{"POST", "http://other.example.com/api/broadcast", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://other.example.com/realtime/v1/api/broadcast/room/events/e", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://Realtime-Dev.example.com:4000/api/broadcast", 202, ""},
		{"POST", "http://realtime-dev/realtime/v1/api/broadcast", 202, ""},
		{"GET", "http://other.example.com/socket/websocket", 404, `{"error":"Tenant not found"}`},
		{"GET", "http://localhost:4000/realtime/v1/websocket", 404, `{"error":"Tenant not found"}`},
		{"GET", "http://realtime-dev.supabase-realtime:4000/socket/websocket", 200, "socket"},
	} {
		status, _, body := request(t, hc, tc.method, tc.url, batch, nil)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.url, status, body, tc.status, tc.body)
		}
	}
	if n := ta.core.refused.Load(); n != 2 {
		t.Errorf("refused sockets = %d, want the 2 of other tenants", n)
	}
}

func TestTenantHostIgnoredByDefault(t *testing.T) {
	ta := newTestAPI(t, Config{}, nil)
	if status, _, body := post(t, ta.viaHost(), "http://anything.example.com/api/broadcast", batch, nil); status != http.StatusAccepted {
		t.Fatalf("broadcast on any host without SEED_SELF_HOST: %d %s", status, body)
	}
}

func TestTenantHealth(t *testing.T) {
	const secret = "super-secret-jwt-token-with-at-least-32-characters"
	ta := newTestAPI(t, Config{JWTSecret: secret, TenantFromHost: true}, nil)
	anon, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon", "iss": "supabase", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon"}).SignedString([]byte("another-secret-another-secret-another"))
	url := ta.url + "/api/tenants/realtime-dev/health"
	for _, tc := range []struct {
		name, method, url, auth string
		status                  int
	}{
		{"no token", "GET", url, "", 403},
		{"not bearer", "GET", url, anon, 403},
		{"wrong secret", "GET", url, "Bearer " + forged, 403},
		{"other tenant", "GET", ta.url + "/api/tenants/acme/health", "Bearer " + anon, 404},
		{"compose check (curl --head)", "HEAD", url, "Bearer " + anon, 200},
		{"GET", "GET", url, "Bearer " + anon, 200},
	} {
		status, _, body := request(t, http.DefaultClient, tc.method, tc.url, "", map[string]string{"Authorization": tc.auth})
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
			if got.Data["healthy"] != true || got.Data["connected_cluster"] != float64(3) {
				t.Errorf("%s: %s, want healthy with the core's 3 sockets", tc.name, body)
			}
		}
	}
}
