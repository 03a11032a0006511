package payload

import (
	"strings"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/replication"
)

// notesChange is a change of a table with a column some roles may not read,
// under REPLICA IDENTITY FULL (old rows whole).
func notesChange(op replication.Op) *replication.Change {
	rel := replication.NewRelation(9, "public", "notes", 'f', []replication.Column{
		{Name: "id", Type: "int8", TypeModifier: -1, Key: true}, {Name: "owner", Type: "text", TypeModifier: -1, Key: true},
		{Name: "secret", Type: "text", TypeModifier: -1, Key: true},
	})
	ch := &replication.Change{Op: op, Rel: rel, CommitTime: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	row := []replication.Value{text("1"), text("u1"), text("s")}
	if op != replication.Insert {
		ch.Old = []replication.Value{text("1"), text("u1"), text("old secret")}
	}
	if op != replication.Delete {
		ch.New = row
	}
	return ch
}

var (
	clientView  = authz.NewView([]string{"id", "owner"}, []string{"id"}, true, false)
	serviceView = authz.NewView([]string{"id", "owner", "secret"}, []string{"id"}, true, true)
	noKeyView   = authz.NewView([]string{"owner", "secret"}, []string{"id"}, false, false)
	noPKView    = authz.NewView([]string{"id", "owner", "secret"}, nil, false, false)
)

// Columns a role may not SELECT are absent from columns, record and
// old_record, in both payload formats.
func TestPayloadHidesColumns(t *testing.T) {
	ch := notesChange(replication.Update)
	v2 := string(AppendChangesFor(nil, ch, nil, clientView))
	want := `{"columns":[{"name":"id","type":"int8"},{"name":"owner","type":"text"}],"commit_timestamp":"2026-11-30T12:00:00.000Z","errors":null,` +
		`"old_record":{"id":1,"owner":"u1"},"record":{"id":1,"owner":"u1"},"schema":"public","table":"notes","type":"UPDATE"}`
	if v2 != want {
		t.Errorf("v2 payload:\n got %s\nwant %s", v2, want)
	}
	v1 := string(AppendTopicFor(nil, ch, TopicColumnsFor(ch.Rel, clientView), clientView))
	want = `{"columns":[{"flags":["key"],"name":"id","type":"int8","type_modifier":4294967295},{"flags":["key"],"name":"owner","type":"text","type_modifier":4294967295}],` +
		`"commit_timestamp":"2026-11-30T12:00:00.000000Z","errors":null,"old_record":{"id":"1","owner":"u1"},"record":{"id":"1","owner":"u1"},"schema":"public","table":"notes","type":"UPDATE"}`
	if v1 != want {
		t.Errorf("v1 payload:\n got %s\nwant %s", v1, want)
	}
	if s := string(AppendChangesFor(nil, ch, nil, serviceView)); !strings.Contains(s, `"secret":"s"`) || !strings.Contains(s, `"secret":"old secret"`) {
		t.Errorf("service_role lost a column: %s", s)
	}
}

// A DELETE on a table with RLS carries the primary key only, whoever
// receives it; on a table without RLS the whole old row the role may read.
func TestDeleteOnRLSTableCarriesKeyOnly(t *testing.T) {
	ch := notesChange(replication.Delete)
	for name, v := range map[string]*authz.View{"client": clientView, "service_role": serviceView} {
		got := string(AppendChangesFor(nil, ch, nil, v))
		if !strings.Contains(got, `"old_record":{"id":1}`) {
			t.Errorf("%s v2 DELETE: %s", name, got)
		}
		got = string(AppendTopicFor(nil, ch, TopicColumnsFor(ch.Rel, v), v))
		if !strings.Contains(got, `"old_record":{"id":"1"}`) {
			t.Errorf("%s v1 DELETE: %s", name, got)
		}
	}
	open := authz.NewView([]string{"id", "owner"}, []string{"id"}, false, false)
	if got := string(AppendChangesFor(nil, ch, nil, open)); !strings.Contains(got, `"old_record":{"id":1,"owner":"u1"}`) {
		t.Errorf("DELETE without RLS: %s", got)
	}
}

// A role that may not read the key gets the 401 payload without the row;
// a table without a primary key the 400 payload.
func TestRefusedPayloads(t *testing.T) {
	ins := notesChange(replication.Insert)
	want := `{"commit_timestamp":"2026-11-30T12:00:00.000Z","errors":["Error 401: Unauthorized"],"schema":"public","table":"notes","type":"INSERT"}`
	if got := string(AppendChangesRefused(nil, ins, noKeyView.Err)); got != want {
		t.Errorf("postgres_changes 401:\n got %s\nwant %s", got, want)
	}
	want = `{"commit_timestamp":"2026-11-30T12:00:00.000000Z","errors":["Error 400: Bad Request, no primary key"],"schema":"public","table":"notes","type":"INSERT"}`
	if got := string(AppendTopicRefused(nil, ins, noPKView.Err)); got != want {
		t.Errorf("topic 400:\n got %s\nwant %s", got, want)
	}
}
