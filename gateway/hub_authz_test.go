package gateway

import (
	"testing"
	"time"

	"github.com/pgrealtime/realtime/filters"
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

// The original's rules for the payload without the row: a role that may
// not read the key, or a table without a primary key, on inserts and
// updates; deletes are never refused (gateway/payload renders them).
func TestRefused(t *testing.T) {
	ins := notesChange(replication.Insert)
	if !refused(noKeyView, ins) || !refused(noPKView, ins) || refused(clientView, ins) || refused(noKeyView, notesChange(replication.Delete)) {
		t.Fatal("refused() disagrees with the original's rules")
	}
	if noKeyView.Err != authz.ErrUnauthorized || noPKView.Err != authz.ErrNoPrimaryKey {
		t.Fatalf("errors: %q %q", noKeyView.Err, noPKView.Err)
	}
}

// A filter on a column the role may not read matches nothing.
func TestFilterOnHiddenColumn(t *testing.T) {
	f, err := filters.ParseFilter("secret=eq.s")
	if err != nil {
		t.Fatal(err)
	}
	if readable(clientView, f) || !readable(serviceView, f) || !readable(nil, f) {
		t.Fatal("readable() lets a hidden column filter")
	}
}

// Without authorization everything passes; with it, a subject the
// snapshot does not know, or no snapshot at all, receives nothing.
func TestViewForFailsClosed(t *testing.T) {
	ch := notesChange(replication.Insert)
	subj, err := authz.NewSubject(map[string]any{"role": "authenticated", "exp": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := (&routeAuth{}).viewFor(ch, nil); !ok {
		t.Error("authorization off refused a change")
	}
	if _, ok, _ := (&routeAuth{on: true}).viewFor(ch, subj); ok {
		t.Error("no snapshot: a change went through")
	}
	if _, ok, _ := (&routeAuth{on: true, snap: &authz.Snapshot{}}).viewFor(ch, subj); ok {
		t.Error("unknown role: a change went through")
	}
}
