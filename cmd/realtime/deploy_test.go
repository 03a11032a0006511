package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"
)

// No Docker engine runs where these tests run, so the compose files in
// deploy/ are checked by reading them: what the gateway will be given and
// what Compose and Kong expect of it.

// composeService reads one service of a compose file: its scalar keys, its
// environment map, and its healthcheck's test list. It understands the
// subset of YAML our files use (two-space indentation, block maps, flow
// lists in JSON form) and fails on anything else it needs.
type composeService struct {
	fields map[string]string
	env    map[string]string
	check  []string
}

func readCompose(t *testing.T, path, service string) (topLevel []string, svc composeService) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	svc = composeService{fields: map[string]string{}, env: map[string]string{}}
	var section, block string // "services", then the service's key being read
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		key, value, _ := strings.Cut(trimmed, ":")
		value = unquote(strings.TrimSpace(value))
		switch {
		case indent == 0:
			topLevel = append(topLevel, key)
			section = key
			in = false
		case section == "services" && indent == 2:
			in = key == service
		case in && indent == 4:
			block = key
			if value != "" {
				svc.fields[key] = value
			}
		case in && indent == 6 && block == "environment":
			svc.env[key] = value
		case in && indent == 6 && block == "healthcheck" && key == "test":
			if err := json.Unmarshal([]byte(value), &svc.check); err != nil {
				t.Fatalf("%s: healthcheck test %q: want a JSON-style list: %v", path, value, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return topLevel, svc
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// supabaseRealtimeEnv is the environment of the realtime service in
// Supabase's docker/docker-compose.yml, with its ${...} values filled in.
var supabaseRealtimeEnv = map[string]string{
	"PORT": "4000", "DB_HOST": "db", "DB_PORT": "5432", "DB_USER": "supabase_admin",
	"DB_PASSWORD": "your-super-secret-and-long-postgres-password", "DB_NAME": "postgres",
	"DB_AFTER_CONNECT_QUERY": "SET search_path TO _realtime", "DB_ENC_KEY": "supabaserealtime",
	"API_JWT_SECRET":     "your-super-secret-jwt-token-with-at-least-32-characters-long",
	"SECRET_KEY_BASE":    "UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
	"METRICS_JWT_SECRET": "your-super-secret-jwt-token-with-at-least-32-characters-long",
	"ERL_AFLAGS":         "-proto_dist inet_tcp", "DNS_NODES": "''", "RLIMIT_NOFILE": "10000",
	"APP_NAME": "realtime", "SEED_SELF_HOST": "true", "RUN_JANITOR": "true", "DISABLE_HEALTHCHECK_LOGGING": "true",
	// Newer versions of the file pass the JWKS, an empty set until
	// asymmetric keys are generated.
	"API_JWT_JWKS": `{"keys":[]}`,
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestDeploySupabaseOverride checks the override of Supabase's realtime
// service: merged with Supabase's environment the gateway starts, serves the
// tenant Kong's host name names, and its health check is a command the
// image has.
func TestDeploySupabaseOverride(t *testing.T) {
	const path = "../../deploy/supabase/docker-compose.realtime.yml"
	top, svc := readCompose(t, path, "realtime")
	if len(top) != 1 || top[0] != "services" {
		t.Errorf("%s: top-level keys %v, want only services (no obsolete version:)", path, top)
	}
	// Compose merges environment maps key by key, the override winning.
	env := maps.Clone(supabaseRealtimeEnv)
	maps.Copy(env, svc.env)
	cfg, err := FromEnv(lookupIn(env))
	if err != nil {
		t.Fatalf("the gateway does not start with the merged environment:\n%v", err)
	}
	// kong.yml sends realtime traffic to http://realtime-dev.supabase-realtime:4000.
	if name := svc.fields["container_name"]; name != "realtime-dev.supabase-realtime" {
		t.Errorf("container_name %q: Kong's routes expect realtime-dev.supabase-realtime", name)
	}
	tenant, _, _ := strings.Cut(svc.fields["container_name"], ".")
	if !cfg.TenantFromHost || cfg.Tenant != tenant || cfg.Port != 4000 {
		t.Errorf("TenantFromHost=%v Tenant=%q Port=%d: want the tenant %q of the container name on port 4000", cfg.TenantFromHost, cfg.Tenant, cfg.Port, tenant)
	}
	if cfg.DBSSL || cfg.JWTSecret != supabaseRealtimeEnv["API_JWT_SECRET"] || cfg.AfterConnectQuery == "" {
		t.Errorf("DBSSL=%v JWTSecret=%q AfterConnectQuery=%q", cfg.DBSSL, cfg.JWTSecret, cfg.AfterConnectQuery)
	}
	if len(svc.check) != 3 || svc.check[0] != "CMD" || svc.check[1] != "/realtime" || svc.check[2] != "health" {
		t.Errorf("healthcheck test %v: want [CMD /realtime health] (the image has no shell or curl)", svc.check)
	}
	dockerfile, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), "COPY --from=build /out/realtime /realtime") {
		t.Error("deploy/Dockerfile no longer installs the binary at /realtime, where the health check runs it")
	}
	// The image named by default is the one the README tells users to build.
	image := svc.fields["image"]
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tag := strings.TrimSuffix(strings.TrimPrefix(image, "${REALTIME_IMAGE:-"), "}")
	if !strings.Contains(string(readme), "docker build -f deploy/Dockerfile -t "+tag+" .") {
		t.Errorf("image %q: README should show the docker build command that makes %s", image, tag)
	}
}

// TestDeployArticleCompose checks deploy/docker-compose.yml: no obsolete
// version key, and the gateway starts with its environment.
func TestDeployArticleCompose(t *testing.T) {
	const path = "../../deploy/docker-compose.yml"
	top, svc := readCompose(t, path, "realtime")
	for _, k := range top {
		if k == "version" {
			t.Errorf("%s has the obsolete top-level version key", path)
		}
	}
	if len(svc.env) == 0 {
		t.Fatalf("%s: no environment read for the realtime service", path)
	}
	if _, err := FromEnv(lookupIn(svc.env)); err != nil {
		t.Errorf("the gateway does not start with the environment of %s:\n%v", path, err)
	}
	if svc.env["DB_HOST"] != "db" {
		t.Errorf("DB_HOST %q: want the database's service name, db", svc.env["DB_HOST"])
	}
}
