package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnvDefaultsAndQuirks(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{"JWT_SECRET": "s", "DB_SSL": "nope", "TEMPORARY_SLOT": "yes"}))
	if err != nil {
		t.Fatal(err)
	}
	// As in the image: true-by-default switches are true unless "false";
	// false-by-default ones only turn on with "true".
	if !cfg.DBSSL || !cfg.SecureChannels || cfg.TemporarySlot {
		t.Fatalf("DBSSL=%v SecureChannels=%v TemporarySlot=%v", cfg.DBSSL, cfg.SecureChannels, cfg.TemporarySlot)
	}
	if cfg.Port != 4000 || cfg.Publications[0] != "supabase_realtime" || cfg.RejoinGrace != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
	if got := cfg.ConnString(); got != "postgres://postgres:postgres@localhost:5432/postgres?sslmode=prefer" {
		t.Fatalf("ConnString = %s", got)
	}
	cfg, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "SLOT_NAME": "rt", "DB_HOST": "::1", "DB_PASSWORD": "p@ss:w/rd", "DB_SSL": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RejoinGrace != 10*time.Second {
		t.Fatalf("a permanent slot should default to a rejoin grace, got %v", cfg.RejoinGrace)
	}
	if got := cfg.ConnString(); got != "postgres://postgres:p%40ss%3Aw%2Frd@[::1]:5432/postgres?sslmode=disable" {
		t.Fatalf("ConnString = %s", got)
	}
}

func TestFromEnvReportsEveryProblem(t *testing.T) {
	_, err := FromEnv(env(map[string]string{"PORT": "x", "PUBLICATIONS": "supabase_realtime", "JWT_CLAIM_VALIDATORS": "{'iss':'x'}", "REALTIME_IP_VERSION": "v5"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"PORT", "PUBLICATIONS", "JWT_CLAIM_VALIDATORS", "REALTIME_IP_VERSION", "JWT secret is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestFromEnvEmptyPublicationName(t *testing.T) {
	for _, v := range []string{`[""]`, `["supabase_realtime", ""]`, `[]`} {
		_, err := FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "PUBLICATIONS": v}))
		if err == nil || !strings.Contains(err.Error(), "PUBLICATIONS=") || !strings.Contains(err.Error(), `e.g. ["supabase_realtime"]`) {
			t.Errorf("PUBLICATIONS=%s: error %v, want the same advice as for other bad values", v, err)
		}
	}
}

func TestFromEnvShutdownStuckSlotAndPprof(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{"SECURE_CHANNELS": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShutdownDrain != 3*time.Second || cfg.RecreateStuckSlot || cfg.PprofAddr != "" {
		t.Fatalf("defaults: drain %v, recreate %v, pprof %q", cfg.ShutdownDrain, cfg.RecreateStuckSlot, cfg.PprofAddr)
	}
	cfg, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "SHUTDOWN_DRAIN_MS": "0", "RECREATE_STUCK_SLOT": "true", "PPROF": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShutdownDrain != 0 || !cfg.RecreateStuckSlot || cfg.PprofAddr != "127.0.0.1:6060" {
		t.Fatalf("set: drain %v, recreate %v, pprof %q", cfg.ShutdownDrain, cfg.RecreateStuckSlot, cfg.PprofAddr)
	}
	cfg, _ = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "PPROF": "true", "PPROF_ADDR": ":7070"}))
	if cfg.PprofAddr != ":7070" {
		t.Fatalf("PPROF_ADDR: %q", cfg.PprofAddr)
	}
	if _, err := FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "SHUTDOWN_DRAIN_MS": "soon"})); err == nil || !strings.Contains(err.Error(), "SHUTDOWN_DRAIN_MS") {
		t.Fatalf("a bad SHUTDOWN_DRAIN_MS: %v", err)
	}
}
func TestListenFamily(t *testing.T) {
	cfg, err := FromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"REALTIME_IP_VERSION": "IPv4", "SECURE_CHANNELS": "false"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if network, addr := cfg.Listen(); network != "tcp4" || addr != "0.0.0.0:4000" {
		t.Fatalf("IPv4: Listen() = %s %s", network, addr)
	}
	cfg.IPv4Only = false
	if network, addr := cfg.Listen(); network != "tcp" || addr != ":4000" {
		t.Fatalf("default: Listen() = %s %s", network, addr)
	}
}

// A bad JWT_JWKS is a configuration error that names the setting.
func TestValidateNamesJWKS(t *testing.T) {
	cfg := Defaults()
	cfg.JWKS = `{"keys":[{"kty":"nope"}]}`
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "JWT_JWKS") {
		t.Errorf("Validate: %v", err)
	}
}
