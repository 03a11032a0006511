package payload

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenChanges covers the shapes clients can receive: an UPDATE and a
// DELETE under REPLICA IDENTITY FULL and DEFAULT, an INSERT of many types
// with a NULL and an unchanged TOAST value, a TRUNCATE.
func goldenChanges() map[string]replication.Change {
	at := time.Date(2022, 6, 1, 12, 0, 0, 123456000, time.UTC)
	service := serviceRelation()
	todos := replication.NewRelation(2, "public", "todos", 'd', []replication.Column{
		{Name: "id", Type: "int8", TypeModifier: -1, Key: true}, {Name: "title", Type: "text", TypeModifier: -1},
	})
	types := replication.NewRelation(3, "public", "types", 'd', []replication.Column{
		{Name: "id", Type: "int4", TypeModifier: -1, Key: true}, {Name: "num", Type: "numeric", TypeModifier: 655366},
		{Name: "ok", Type: "bool", TypeModifier: -1}, {Name: "jb", Type: "jsonb", TypeModifier: -1},
		{Name: "tz", Type: "timestamptz", TypeModifier: -1}, {Name: "ts", Type: "timestamp", TypeModifier: -1},
		{Name: "ia", Type: "_int4", TypeModifier: -1}, {Name: "b", Type: "bytea", TypeModifier: -1},
		{Name: "n", Type: "text", TypeModifier: -1}, {Name: "big", Type: "text", TypeModifier: -1},
	})
	null, unchanged := replication.Value{}, replication.Value{State: replication.Unchanged}
	return map[string]replication.Change{
		"update_full": {Op: replication.Update, Rel: service, CommitTime: at,
			New: []replication.Value{text("1"), text("Reboque"), text("2")},
			Old: []replication.Value{text("1"), text("Reboque"), text("1")}},
		"delete_full": {Op: replication.Delete, Rel: service, CommitTime: at,
			Old: []replication.Value{text("3"), text("Pane Seca"), text("1")}},
		"update_default": {Op: replication.Update, Rel: todos, CommitTime: at,
			New: []replication.Value{text("7"), text("milk")}},
		"delete_default": {Op: replication.Delete, Rel: todos, CommitTime: at, OldIsKey: true,
			Old: []replication.Value{text("7"), null}},
		"insert_types": {Op: replication.Insert, Rel: types, CommitTime: at, New: []replication.Value{
			text("1"), text("12.50"), text("t"), text(`{"a": [1, 2]}`), text("2021-02-16 23:47:47.51613+00"),
			text("2021-02-16 23:47:47.51613"), text("{1,2,NULL}"), text(`\x0102`), null, unchanged}},
		"truncate": {Op: replication.Truncate, Rel: service, CommitTime: at},
	}
}

// TestGoldenFrames pins, byte for byte, the frames a 1.x topic subscriber
// (vsn 1.0.0) and a postgres_changes subscriber (vsn 2.0.0) receive.
func TestGoldenFrames(t *testing.T) {
	for name, ch := range goldenChanges() {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			v1 := phoenix.V1.Append(nil, phoenix.Message{Topic: "realtime:public:" + ch.Rel.Table, Event: ch.Op.String(),
				Payload: AppendTopic(nil, &ch, TopicColumns(ch.Rel))})
			out.WriteString("vsn 1.0.0, v1 topic:\n")
			indent(t, &out, v1)
			if ch.Op != replication.Truncate {
				p := append([]byte(`{"data":`), AppendChanges(nil, &ch, nil)...)
				p = append(p, `,"ids":[38606455]}`...)
				v2 := phoenix.V2.Append(nil, phoenix.Message{Topic: "realtime:room1", Event: "postgres_changes", Payload: p})
				out.WriteString("\nvsn 2.0.0, postgres_changes:\n")
				indent(t, &out, v2)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./gateway/payload -run TestGoldenFrames -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("frames differ from %s:\n got:\n%s\nwant:\n%s", path, out.Bytes(), want)
			}
		})
	}
}

func indent(t *testing.T, out *bytes.Buffer, frame []byte) {
	t.Helper()
	if err := json.Indent(out, frame, "", "  "); err != nil {
		t.Fatalf("frame is not JSON: %v\n%s", err, frame)
	}
	out.WriteByte('\n')
}
