package filters

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseBinding(t *testing.T) {
	b, err := ParseBinding(json.RawMessage(`{"event":"update","table":"todos","filter":"id=gt.5","select":["title"],"id":99}`))
	if err != nil {
		t.Fatal(err)
	}
	if b.Event != "UPDATE" || b.Schema != "public" || b.Table != "todos" || len(b.Filter) != 1 || !b.Selected["title"] || b.Err != "" {
		t.Fatalf("ParseBinding = %+v", b)
	}
	again, _ := ParseBinding(json.RawMessage(`{ "table":"todos","select":["title"],"filter":"id=gt.5","event":"update" }`))
	if again.ID != b.ID {
		t.Errorf("same parameters in another order and without id: id %d, want %d", again.ID, b.ID)
	}
	var echoed map[string]any
	if err := json.Unmarshal(b.ReplyEntry(), &echoed); err != nil || echoed["id"] != float64(b.ID) || echoed["filter"] != "id=gt.5" || echoed["event"] != "update" {
		t.Errorf("ReplyEntry = %v (%v), want the client's entry with id %d", echoed, err, b.ID)
	}
	// Reported after the join, not refusing it.
	for raw, want := range map[string]string{
		`{"table":"todos","filter":"id=bogus.1"}`: `unknown operator "bogus"`,
		`{"schema":"*","filter":"id=eq.1"}`:       "a filter needs one table",
		`{"table":"*","select":["a"]}`:            "select needs one table",
	} {
		b, err := ParseBinding(json.RawMessage(raw))
		if err != nil || !strings.Contains(b.Err, want) {
			t.Errorf("ParseBinding(%s) = %+v, %v; want Err containing %q", raw, b, err, want)
		}
	}
}

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
		b, err := ParseBinding(json.RawMessage(raw))
		if err != nil {
			return
		}
		if !b.wants("INSERT") && !b.wants("UPDATE") && !b.wants("DELETE") {
			t.Fatalf("accepted binding routes nothing: %+v", b)
		}
		if again, _ := ParseBinding(json.RawMessage(raw)); again.ID != b.ID {
			t.Fatalf("id not stable: %d then %d", b.ID, again.ID)
		}
		_ = b.ReplyEntry()
	})
}
