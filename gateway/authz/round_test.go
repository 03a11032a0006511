package authz

import (
	"testing"
	"time"

	"github.com/pgrealtime/realtime/filters"
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

func text(s string) replication.Value { return replication.Value{State: replication.Text, Text: s} }

var (
	clientView  = NewView([]string{"id", "owner"}, []string{"id"}, true, false)
	serviceView = NewView([]string{"id", "owner", "secret"}, []string{"id"}, true, true)
)

// A filter on a column the role may not read matches nothing.
func TestFilterOnHiddenColumn(t *testing.T) {
	f, err := filters.ParseFilter("secret=eq.s")
	if err != nil {
		t.Fatal(err)
	}
	if Readable(clientView, f) || !Readable(serviceView, f) || !Readable(nil, f) {
		t.Fatal("Readable() lets a hidden column filter")
	}
}

// Without authorization everything passes; with it, a subject the
// snapshot does not know, or no snapshot at all, receives nothing.
func TestViewForFailsClosed(t *testing.T) {
	ch := notesChange(replication.Insert)
	subj, err := NewSubject(map[string]any{"role": "authenticated", "exp": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := (&Round{}).ViewFor(ch, nil); !ok {
		t.Error("authorization off refused a change")
	}
	if _, ok, _ := (&Round{on: true}).ViewFor(ch, subj); ok {
		t.Error("no snapshot: a change went through")
	}
	if _, ok, _ := (&Round{on: true, snap: &Snapshot{}}).ViewFor(ch, subj); ok {
		t.Error("unknown role: a change went through")
	}
}
