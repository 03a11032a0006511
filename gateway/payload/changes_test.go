package payload

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/replication"
)

func TestAppendTyped(t *testing.T) {
	tests := []struct{ typ, text, want string }{
		{"int4", "42", `42`},
		{"int8", "-9223372036854775808", `-9223372036854775808`},
		{"numeric", "12.50", `12.50`},
		{"numeric", "NaN", `"NaN"`},
		{"float8", "Infinity", `"Infinity"`},
		{"float8", "1.5e-07", `1.5e-07`},
		{"bool", "t", `true`},
		{"bool", "f", `false`},
		{"jsonb", `{"a": [1, 2]}`, `{"a": [1, 2]}`},
		{"text", "hi \"there\"", `"hi \"there\""`},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"timestamptz", "2026-08-21 12:00:00.123456+00", `"2026-08-21T12:00:00.123456+00:00"`},
		{"timestamptz", "2026-08-21 12:00:00+02", `"2026-08-21T12:00:00+02:00"`},
		{"timestamp", "2026-08-21 12:00:00.5", `"2026-08-21T12:00:00.5"`},
		{"date", "2026-08-21", `"2026-08-21"`},
		{"bytea", `\x0102`, `"\\x0102"`},
		{"_int4", "{1,2,3}", `[1,2,3]`},
		{"_int4", "{{1,2},{3,NULL}}", `[[1,2],[3,null]]`},
		{"_text", `{"a b","c\"d",plain,NULL,"NULL"}`, `["a b","c\"d","plain",null,"NULL"]`},
		{"_text", "{}", `[]`},
		{"_bool", "{t,f}", `[true,false]`},
		{"_int4", "[0:1]={1,2}", `"[0:1]={1,2}"`},
		{"_jsonb", `{"{\"a\": 1}"}`, `[{"a": 1}]`},
	}
	for _, tc := range tests {
		got := string(appendTyped(nil, tc.typ, tc.text))
		if got != tc.want {
			t.Errorf("appendTyped(%s, %q) = %s, want %s", tc.typ, tc.text, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendTyped(%s, %q) = %s is not JSON", tc.typ, tc.text, got)
		}
	}
}

func TestChangesShapes(t *testing.T) {
	rel := replication.NewRelation(1, "public", "todos", 'd', []replication.Column{
		{Name: "id", Type: "int8", Key: true},
		{Name: "title", Type: "text"},
		{Name: "done", Type: "bool"},
	})
	at := time.Date(2026, 8, 21, 12, 0, 0, 123456789, time.UTC)
	upd := replication.Change{Op: replication.Update, Rel: rel, CommitTime: at,
		New: []replication.Value{text("1"), text("milk"), text("t")}}
	got := string(AppendChanges(nil, &upd, nil))
	want := `{"columns":[{"name":"id","type":"int8"},{"name":"title","type":"text"},{"name":"done","type":"bool"}],"commit_timestamp":"2026-08-21T12:00:00.123Z","errors":null,"old_record":{"id":1},"record":{"id":1,"title":"milk","done":true},"schema":"public","table":"todos","type":"UPDATE"}`
	if got != want {
		t.Fatalf("UPDATE data:\n got %s\nwant %s", got, want)
	}
	del := replication.Change{Op: replication.Delete, Rel: rel, CommitTime: at, OldIsKey: true,
		Old: []replication.Value{text("1"), {}, {}}}
	var m map[string]any
	if err := json.Unmarshal(AppendChanges(nil, &del, nil), &m); err != nil {
		t.Fatal(err)
	}
	if _, has := m["record"]; has {
		t.Fatal("DELETE must have no record key")
	}
	if old := m["old_record"].(map[string]any); len(old) != 1 || old["id"] != float64(1) {
		t.Fatalf("DELETE old_record = %v, want the key only", old)
	}
	toast := replication.Change{Op: replication.Update, Rel: rel, CommitTime: at,
		New: []replication.Value{text("1"), {State: replication.Unchanged}, text("f")}}
	if err := json.Unmarshal(AppendChanges(nil, &toast, nil), &m); err != nil {
		t.Fatal(err)
	}
	if _, has := m["record"].(map[string]any)["title"]; has {
		t.Fatal("an unfilled unchanged TOAST value must be left out of record")
	}
}
