package main

import "testing"

func TestMigrationsSetting(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "false": false, "FALSE": false, "no": true} {
		env := map[string]string{"SECURE_CHANNELS": "false", "REALTIME_MIGRATIONS": v}
		cfg, err := FromEnv(func(k string) (string, bool) { s, ok := env[k]; return s, ok })
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Migrations != want {
			t.Errorf("REALTIME_MIGRATIONS=%q: Migrations = %v, want %v", v, cfg.Migrations, want)
		}
	}
}
