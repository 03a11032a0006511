package payload

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/replication"
)

func TestISOTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2021-02-16 23:47:47.51613+00": "2021-02-16T23:47:47.51613Z",
		"2021-02-16 23:47:47.51613":    "2021-02-16T23:47:47.51613Z",
		"2021-02-16 23:47:47":          "2021-02-16T23:47:47Z",
		"2021-02-16 23:47:47+02":       "2021-02-16T23:47:47+02:00",
		"2021-02-16 23:47:47.1-05:30":  "2021-02-16T23:47:47.1-05:30",
		"infinity":                     "infinity",
		"0044-03-15 12:00:00 BC":       "0044-03-15 12:00:00 BC",
		"2021-02-16":                   "2021-02-16",
	} {
		if got := isoTimestamp(in); got != want {
			t.Errorf("isoTimestamp(%q) = %q, want %q", in, got, want)
		}
	}
}

func serviceRelation() *replication.Relation {
	return replication.NewRelation(16390, "public", "service", 'f', []replication.Column{
		{Name: "id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
		{Name: "name", Type: "varchar", TypeOID: 1043, TypeModifier: 259, Key: true},
		{Name: "status_id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
	})
}

func text(s string) replication.Value { return replication.Value{State: replication.Text, Text: s} }

func TestTopicUpdate(t *testing.T) {
	rel := serviceRelation()
	ch := replication.Change{
		Op: replication.Update, Rel: rel,
		CommitTime: time.Date(2022, 6, 1, 12, 0, 0, 123456000, time.UTC),
		New:        []replication.Value{text("1"), text("Reboque"), text("2")},
		Old:        []replication.Value{text("1"), text("Reboque"), text("1")},
	}
	got := string(AppendTopic(nil, &ch, TopicColumns(rel)))
	want := `{"columns":[{"flags":["key"],"name":"id","type":"int8","type_modifier":4294967295},{"flags":["key"],"name":"name","type":"varchar","type_modifier":259},{"flags":["key"],"name":"status_id","type":"int8","type_modifier":4294967295}],"commit_timestamp":"2022-06-01T12:00:00.123456Z","errors":null,"old_record":{"id":"1","name":"Reboque","status_id":"1"},"record":{"id":"1","name":"Reboque","status_id":"2"},"schema":"public","table":"service","type":"UPDATE"}`
	if got != want {
		t.Fatalf("payload:\n got %s\nwant %s", got, want)
	}
}

func TestTopicShapes(t *testing.T) {
	rel := serviceRelation()
	base := replication.Change{Rel: rel, CommitTime: time.Unix(0, 0)}
	null := replication.Value{}
	tests := []struct {
		name     string
		change   func(c replication.Change) replication.Change
		wantKeys []string
		check    func(t *testing.T, p map[string]any)
	}{
		{"insert", func(c replication.Change) replication.Change {
			c.Op, c.New = replication.Insert, []replication.Value{text("5"), text("x"), null}
			return c
		}, []string{"columns", "commit_timestamp", "errors", "record", "schema", "table", "type"},
			func(t *testing.T, p map[string]any) {
				if p["record"].(map[string]any)["status_id"] != nil {
					t.Error("NULL must render as null")
				}
			}},
		{"update key-only old", func(c replication.Change) replication.Change {
			c.Op, c.New, c.Old, c.OldIsKey = replication.Update, []replication.Value{text("5"), text("x"), text("1")}, []replication.Value{text("4"), null, null}, true
			return c
		}, []string{"columns", "commit_timestamp", "errors", "old_record", "record", "schema", "table", "type"},
			func(t *testing.T, p map[string]any) {
				if len(p["old_record"].(map[string]any)) != 0 {
					t.Errorf("UPDATE under DEFAULT identity: old_record = %v, want {}", p["old_record"])
				}
			}},
		{"update unchanged toast", func(c replication.Change) replication.Change {
			c.Op, c.New = replication.Update, []replication.Value{text("5"), {State: replication.Unchanged}, text("1")}
			return c
		}, []string{"columns", "commit_timestamp", "errors", "old_record", "record", "schema", "table", "type"},
			func(t *testing.T, p map[string]any) {
				if p["record"].(map[string]any)["name"] != "unchanged_toast" {
					t.Errorf("record = %v", p["record"])
				}
			}},
		{"delete key-only", func(c replication.Change) replication.Change {
			c.Op, c.Old, c.OldIsKey = replication.Delete, []replication.Value{text("4"), null, null}, true
			return c
		}, []string{"columns", "commit_timestamp", "errors", "old_record", "schema", "table", "type"},
			func(t *testing.T, p map[string]any) {
				old := p["old_record"].(map[string]any)
				if len(old) != 3 || old["id"] != "4" || old["name"] != nil {
					t.Errorf("DELETE under DEFAULT: old_record = %v, want every column, non-key null", old)
				}
			}},
		{"truncate", func(c replication.Change) replication.Change {
			c.Op = replication.Truncate
			return c
		}, []string{"commit_timestamp", "schema", "table", "type"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.change(base)
			raw := AppendTopic(nil, &ch, TopicColumns(rel))
			var p map[string]any
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("invalid JSON %s: %v", raw, err)
			}
			if len(p) != len(tc.wantKeys) {
				t.Fatalf("keys of %s, want %v", raw, tc.wantKeys)
			}
			for _, k := range tc.wantKeys {
				if _, ok := p[k]; !ok {
					t.Fatalf("key %q missing in %s", k, raw)
				}
			}
			if p["type"] != ch.Op.String() {
				t.Fatalf("type = %v", p["type"])
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}
