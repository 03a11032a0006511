package v2

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgrealtime/realtime/test/harness"
)

// selfHostSchema prepares a database as Supabase's self-hosted stack does
// (its postgres image and init scripts): the supabase_admin superuser the
// realtime service logs in as, the API roles, the _realtime schema its
// DB_AFTER_CONNECT_QUERY points at, an empty supabase_realtime publication
// to which Studio then adds tables.
//
// Roles are cluster-wide and other tests create the API roles at the same
// time: a check-then-create races them (a unique_violation on pg_authid),
// so the roles come from harness.SupabaseRoles and supabase_admin is made
// the same way.
const selfHostSchema = harness.SupabaseRoles + `
DO $$ BEGIN
  CREATE ROLE supabase_admin LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS PASSWORD 'selfhost-password';
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
CREATE SCHEMA _realtime AUTHORIZATION supabase_admin;
CREATE PUBLICATION supabase_realtime;
CREATE TABLE public.todos (id int8 PRIMARY KEY, task text NOT NULL, done bool NOT NULL DEFAULT false);
GRANT ALL ON public.todos TO anon, authenticated, service_role;
ALTER PUBLICATION supabase_realtime ADD TABLE public.todos;`

// kongUpstream is the realtime service's address in kong.yml. Its first
// label is the tenant.
const kongUpstream = "realtime-dev.supabase-realtime:4000"

// kong stands in for the Kong of Supabase's stack with the realtime routes
// of its kong.yml: key-auth on the apikey header or query parameter,
// /realtime/v1/api/tenants and /api/openapi refused, /realtime/v1/api
// stripped to /api (Authorization from the apikey when absent),
// /realtime/v1/ stripped to /socket/ (x-api-key header and apikey query
// set to the key), and the upstream's host name as Host, since Kong does
// not preserve the client's.
func kong(t *testing.T, gatewayPort int, keys ...string) *httptest.Server {
	t.Helper()
	proxy := &httputil.ReverseProxy{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", gatewayPort))
		}},
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", kongUpstream, kongUpstream
			r.SetXForwarded()
		},
	}
	forbidden := func(w http.ResponseWriter, status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":%q}`, msg)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if strings.HasPrefix(path, "/realtime/v1/api/tenants") || strings.HasPrefix(path, "/realtime/v1/api/openapi") {
			forbidden(w, http.StatusForbidden, "Access is forbidden.")
			return
		}
		key := r.Header.Get("apikey")
		if key == "" {
			key = r.URL.Query().Get("apikey")
		}
		if !slices.Contains(keys, key) {
			forbidden(w, http.StatusUnauthorized, "Invalid authentication credentials")
			return
		}
		out := r.Clone(r.Context())
		if rest, ok := strings.CutPrefix(path, "/realtime/v1/api"); ok {
			out.URL.Path = "/api" + rest
			if out.Header.Get("Authorization") == "" {
				out.Header.Set("Authorization", "Bearer "+key)
			}
		} else if rest, ok := strings.CutPrefix(path, "/realtime/v1/"); ok {
			out.URL.Path = "/socket/" + rest
			out.Header.Set("x-api-key", key)
			q := out.URL.Query()
			q.Set("apikey", key)
			out.URL.RawQuery = q.Encode()
		} else {
			forbidden(w, http.StatusNotFound, "no Route matched with those values")
			return
		}
		out.URL.RawPath = ""
		proxy.ServeHTTP(w, out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSelfHostedSupabase swaps the gateway into Supabase's self-hosted
// stack without Docker: the realtime service's environment from its
// docker-compose.yml, a database prepared as the stack prepares it, Kong's
// realtime routes in front, supabase-js created with the stack's URL and
// anon key, and the compose file's health check.
func TestSelfHostedSupabase(t *testing.T) {
	t.Parallel()
	db := database(t, selfHostSchema)
	anon := hs256(t, jwt.MapClaims{"iss": "supabase-demo", "role": "anon", "exp": time.Now().Add(time.Hour).Unix()}, jwtSecret)
	service := hs256(t, jwt.MapClaims{"iss": "supabase-demo", "role": "service_role", "exp": time.Now().Add(time.Hour).Unix()}, jwtSecret)
	g := startGateway(t, db,
		"SECURE_CHANNELS=true", // the harness turns it off; the 2.x compose leaves it at its default
		"DB_USER=supabase_admin", "DB_PASSWORD=selfhost-password",
		"DB_AFTER_CONNECT_QUERY=SET search_path TO _realtime",
		"DB_ENC_KEY=supabaserealtime", "API_JWT_SECRET="+jwtSecret,
		"SECRET_KEY_BASE=UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
		"METRICS_JWT_SECRET="+jwtSecret, "ERL_AFLAGS=-proto_dist inet_tcp", "DNS_NODES=''",
		"RLIMIT_NOFILE=10000", "APP_NAME=realtime", "SEED_SELF_HOST=true", "RUN_JANITOR=true",
		"DISABLE_HEALTHCHECK_LOGGING=true")
	if logs := g.Logs.String(); !strings.Contains(logs, "ignoring settings of the supabase/realtime 2.x image") || !strings.Contains(logs, "DB_ENC_KEY") {
		t.Errorf("no startup line about the ignored 2.x variables:\n%s", logs)
	}

	// The compose file's check, run inside the container:
	// curl -sSfL --head -H "Authorization: Bearer $ANON_KEY" http://localhost:4000/api/tenants/realtime-dev/health
	health := fmt.Sprintf("http://localhost:%d/api/tenants/realtime-dev/health", g.Port)
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		status, body := call(t, method, health, map[string]string{"Authorization": "Bearer " + anon}, "")
		if status != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, health, status, body)
		}
		if method == http.MethodGet {
			var got struct{ Data struct{ Healthy bool } }
			if err := json.Unmarshal([]byte(body), &got); err != nil || !got.Data.Healthy {
				t.Fatalf("health body %s (%v): want data.healthy true", body, err)
			}
		}
	}

	k := kong(t, g.Port, anon, service)
	a := startClientURL(t, "supabase", k.URL, anon)
	b := startClientURL(t, "supabase", k.URL, anon)
	room := map[string]any{"broadcast": map[string]any{"self": false}}
	a.subscribed(map[string]any{"name": "todos", "bindings": []any{map[string]any{"event": "*", "schema": "public", "table": "todos"}},
		"config": map[string]any{"broadcast": room["broadcast"], "presence": map[string]any{"key": "alice"}}, "broadcast": []string{"*"}, "presence": true})
	b.subscribed(map[string]any{"name": "todos", "config": map[string]any{"broadcast": room["broadcast"], "presence": map[string]any{"key": "bob"}},
		"broadcast": []string{"*"}, "presence": true})

	exec1(t, db, "INSERT INTO public.todos (id, task) VALUES (1, 'swap the realtime service')")
	e := a.expect("the INSERT through Kong", func(e event) bool { return e.str("kind") == "pg" })
	if row, _ := e["new"].(map[string]any); e.str("type") != "INSERT" || row["task"] != "swap the realtime service" || row["done"] != false {
		t.Fatalf("postgres_changes through Kong: %v", e)
	}

	b.send(map[string]any{"cmd": "send", "name": "todos", "event": "cursor", "payload": map[string]any{"x": 1}})
	a.expect("b's broadcast through Kong", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "cursor" })

	b.send(map[string]any{"cmd": "track", "name": "todos", "payload": map[string]any{"status": "online"}})
	a.expect("b's presence through Kong", func(e event) bool {
		st, _ := e["state"].(map[string]any)
		return e.str("kind") == "presence" && st["bob"] != nil
	})

	// The REST broadcast as supabase-js sends it (httpSend), through
	// Kong's /realtime/v1/api route.
	status, body := call(t, http.MethodPost, k.URL+"/realtime/v1/api/broadcast",
		map[string]string{"apikey": service, "Authorization": "Bearer " + service, "Content-Type": "application/json"},
		`{"messages":[{"topic":"todos","event":"from-server","payload":{"n":1}}]}`)
	if status != http.StatusAccepted {
		t.Fatalf("REST broadcast through Kong: %d %s", status, body)
	}
	a.expect("the REST broadcast", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "from-server" })
	b.expect("the REST broadcast", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "from-server" })

	// httpSend() as a browser app calls it: supabase-js builds
	// /realtime/v1/api/broadcast/todos/events/... from its URL, Kong strips
	// it to /api/broadcast/...
	b.send(map[string]any{"cmd": "httpSend", "name": "todos", "event": "via-http", "payload": map[string]any{"n": 2}})
	if e := b.expect("httpSend's result", func(e event) bool { return e.str("kind") == "httpSent" }); e["error"] != nil {
		t.Fatalf("httpSend through Kong: %v", e)
	}
	a.expect("the httpSend broadcast", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "via-http" })

	// Straight to the gateway (no Kong, whose cors plugin would answer),
	// a browser's preflight for httpSend from another origin.
	pre, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, fmt.Sprintf("http://127.0.0.1:%d/api/broadcast", g.Port), nil)
	pre.Header.Set("Origin", "http://localhost:3000")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "apikey, authorization, content-type, x-client-info")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "authorization") {
		t.Fatalf("CORS preflight of /api/broadcast: %d %v", resp.StatusCode, resp.Header)
	}

	// Straight to the gateway, a host that does not name the tenant gets
	// the 2.x answer; Kong's host does.
	status, body = call(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/api/broadcast", g.Port),
		map[string]string{"Authorization": "Bearer " + service}, `{"messages":[]}`)
	if status != http.StatusUnauthorized || !strings.Contains(body, "Tenant not found in database") {
		t.Fatalf("REST broadcast for host 127.0.0.1: %d %s, want 401 Tenant not found in database", status, body)
	}
}

func call(t *testing.T, method, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
