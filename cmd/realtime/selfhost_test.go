package main

import (
	"slices"
	"strings"
	"testing"
)

// selfHostedEnv is the environment Supabase's docker-compose.yml gives the
// realtime service (secrets replaced).
func selfHostedEnv() map[string]string {
	return map[string]string{
		"PORT": "4000", "DB_HOST": "db", "DB_PORT": "5432", "DB_USER": "supabase_admin",
		"DB_PASSWORD": "pw", "DB_NAME": "postgres",
		"DB_AFTER_CONNECT_QUERY": "SET search_path TO _realtime",
		"DB_ENC_KEY":             "supabaserealtime", "API_JWT_SECRET": "jwt-secret",
		"SECRET_KEY_BASE":    "UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
		"METRICS_JWT_SECRET": "jwt-secret", "ERL_AFLAGS": "-proto_dist inet_tcp", "DNS_NODES": "''",
		"RLIMIT_NOFILE": "10000", "APP_NAME": "realtime", "SEED_SELF_HOST": "true", "RUN_JANITOR": "true",
		"DISABLE_HEALTHCHECK_LOGGING": "true",
	}
}

func TestFromEnvSelfHostedCompose(t *testing.T) {
	cfg, err := FromEnv(env(selfHostedEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JWTSecret != "jwt-secret" || !cfg.SecureChannels {
		t.Errorf("JWTSecret=%q SecureChannels=%v: API_JWT_SECRET should be the secret", cfg.JWTSecret, cfg.SecureChannels)
	}
	if cfg.Tenant != "realtime-dev" || !cfg.TenantFromHost {
		t.Errorf("Tenant=%q TenantFromHost=%v: SEED_SELF_HOST=true should serve realtime-dev", cfg.Tenant, cfg.TenantFromHost)
	}
	if cfg.AfterConnectQuery != "SET search_path TO _realtime" || cfg.DBUser != "supabase_admin" || cfg.DBHost != "db" {
		t.Errorf("database settings: %q %q %q", cfg.AfterConnectQuery, cfg.DBUser, cfg.DBHost)
	}
	ignored := IgnoredEnv(env(selfHostedEnv()))
	var names []string
	for _, l := range ignored {
		name, why, _ := strings.Cut(l, ": ")
		if why == "" {
			t.Errorf("%s is ignored without a reason", name)
		}
		names = append(names, name)
	}
	want := []string{"DB_ENC_KEY", "SECRET_KEY_BASE", "METRICS_JWT_SECRET", "ERL_AFLAGS", "DNS_NODES", "RLIMIT_NOFILE", "APP_NAME", "RUN_JANITOR", "DISABLE_HEALTHCHECK_LOGGING"}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("IgnoredEnv = %v, want %v", names, want)
	}
}

func TestFromEnvJWTSecretNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		secret  string
		wantErr string
	}{
		{"v1 name", map[string]string{"JWT_SECRET": "a"}, "a", ""},
		{"2.x name", map[string]string{"API_JWT_SECRET": "a"}, "a", ""},
		{"both, equal", map[string]string{"JWT_SECRET": "a", "API_JWT_SECRET": "a"}, "a", ""},
		{"both, different", map[string]string{"JWT_SECRET": "a", "API_JWT_SECRET": "b"}, "", "JWT_SECRET and API_JWT_SECRET are both set, to different values"},
		{"neither", map[string]string{}, "", "set JWT_SECRET or API_JWT_SECRET"},
		// The compose file's default before asymmetric keys exist.
		{"empty key set", map[string]string{"API_JWT_SECRET": "a", "API_JWT_JWKS": `{"keys":[]}`}, "a", ""},
		{"only an empty key set", map[string]string{"API_JWT_JWKS": `{"keys":[]}`}, "", "JWT secret is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromEnv(env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FromEnv(%v) error = %v, want one containing %q", tc.env, err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg.JWTSecret != tc.secret {
				t.Fatalf("FromEnv(%v) = secret %q, %v; want %q", tc.env, cfg.JWTSecret, err, tc.secret)
			}
		})
	}
}

func TestFromEnvTenantAndOrigins(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{"SECURE_CHANNELS": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TenantFromHost || cfg.Tenant != "realtime-dev" || !slices.Equal(cfg.CORSOrigins, []string{"*"}) {
		t.Errorf("defaults: TenantFromHost=%v Tenant=%q CORSOrigins=%v", cfg.TenantFromHost, cfg.Tenant, cfg.CORSOrigins)
	}
	cfg, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "SELF_HOST_TENANT_NAME": "acme",
		"CORS_ALLOWED_ORIGINS": " https://App.example.com/ , http://localhost:3000"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.TenantFromHost || cfg.Tenant != "acme" {
		t.Errorf("SELF_HOST_TENANT_NAME: TenantFromHost=%v Tenant=%q", cfg.TenantFromHost, cfg.Tenant)
	}
	if want := []string{"https://app.example.com", "http://localhost:3000"}; !slices.Equal(cfg.CORSOrigins, want) {
		t.Errorf("CORSOrigins = %v, want %v", cfg.CORSOrigins, want)
	}
	_, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "SELF_HOST_TENANT_NAME": "a.b",
		"CORS_ALLOWED_ORIGINS": "app.example.com"}))
	for _, want := range []string{"SELF_HOST_TENANT_NAME", "CORS_ALLOWED_ORIGINS", `"app.example.com" is not an origin`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestFromEnvChannelCapNames(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "TENANT_MAX_CHANNELS_PER_CLIENT": "7"}))
	if err != nil || cfg.MaxChannelsPerSocket != 7 {
		t.Errorf("TENANT_MAX_CHANNELS_PER_CLIENT=7: %d, %v", cfg.MaxChannelsPerSocket, err)
	}
	cfg, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "TENANT_MAX_CHANNELS_PER_CLIENT": "7", "MAX_CHANNELS_PER_CLIENT": "7"}))
	if err != nil || cfg.MaxChannelsPerSocket != 7 {
		t.Errorf("both 7: %d, %v", cfg.MaxChannelsPerSocket, err)
	}
	_, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "TENANT_MAX_CHANNELS_PER_CLIENT": "7", "MAX_CHANNELS_PER_CLIENT": "8"}))
	if err == nil || !strings.Contains(err.Error(), "MAX_CHANNELS_PER_CLIENT and TENANT_MAX_CHANNELS_PER_CLIENT") {
		t.Errorf("7 and 8: %v, want an error naming both", err)
	}
}
