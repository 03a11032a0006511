package gateway

import (
	"encoding/json"
	"testing"
)

// FuzzParseBinding feeds arbitrary postgres_changes entries to the join
// config parser: it may refuse them, never panic, and what it accepts has
// an event it can route and a stable id.
func FuzzParseBinding(f *testing.F) {
	for _, s := range []string{
		`{"event":"*","schema":"public","table":"todos"}`,
		`{"event":"UPDATE","schema":"public","table":"todos","filter":"id=gt.5"}`,
		`{"event":"INSERT","table":"t","filter":"id=in.(1,2)","select":["a","b"]}`,
		`{"event":"*","schema":"*"}`, `{"filter":"name=like.*x*"}`, `{"select":[]}`, `null`, `[]`, `{"event":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := parseBinding(json.RawMessage(raw))
		if err != nil {
			return
		}
		if !b.wants("INSERT") && !b.wants("UPDATE") && !b.wants("DELETE") {
			t.Fatalf("accepted binding routes nothing: %+v", b)
		}
		if again, _ := parseBinding(json.RawMessage(raw)); again.id != b.id {
			t.Fatalf("id not stable: %d then %d", b.id, again.id)
		}
		_ = b.replyEntry()
	})
}
