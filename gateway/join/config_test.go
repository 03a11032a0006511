package join

import (
	"encoding/json"
	"testing"
)

// realtime-js and its users send booleans both as JSON and as strings.
func TestFlexBool(t *testing.T) {
	for in, want := range map[string]bool{
		`true`: true, `false`: false, `"TRUE"`: true, `"false"`: false,
		`null`: false, `""`: false,
	} {
		b := !FlexBool(want)
		if err := json.Unmarshal([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("%s: %v, %v; want %v", in, b, err, want)
		}
	}
	for _, in := range []string{`1`, `"yes"`, `"t"`, `{}`} {
		var b FlexBool
		if err := json.Unmarshal([]byte(in), &b); err == nil {
			t.Errorf("%s: %v, want an error", in, b)
		}
	}
}

// A realtime-js 2.x join config, every field set.
func TestConfigDecode(t *testing.T) {
	raw := `{
		"broadcast": {"self": true, "ack": "True", "replay": {"since": 1700000000000, "limit": 25}, "replication_ready": true},
		"presence": {"key": "u1", "enabled": true},
		"postgres_changes": [{"event": "*", "schema": "public", "table": "notes", "filter": "id=eq.1"}],
		"private": "true"
	}`
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	b := c.Broadcast
	if !b.Self || !b.Ack || !b.ReplicationReady || !c.Presence.Enabled || !c.Private {
		t.Errorf("a flag is off: %+v", c)
	}
	if b.Replay == nil || b.Replay.Since != "1700000000000" || b.Replay.Limit != "25" {
		t.Errorf("replay %+v, want since 1700000000000, limit 25", b.Replay)
	}
	if c.Presence.Key != "u1" {
		t.Errorf("presence key %q, want u1", c.Presence.Key)
	}
	want := `{"event": "*", "schema": "public", "table": "notes", "filter": "id=eq.1"}`
	if len(c.PostgresChanges) != 1 || string(c.PostgresChanges[0]) != want {
		t.Errorf("postgres_changes %s, want [%s]", c.PostgresChanges, want)
	}
}
