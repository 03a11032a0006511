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

// Add gathers one request per table and distinct claims, one row per
// change, and leaves out what needs no check or cannot be checked.
func TestRoundAddGroups(t *testing.T) {
	tbl := &table{schema: "public", name: "notes", rls: true, pk: []string{"id"}}
	rlsView := newView(tbl, &role{}, []string{"id", "owner"})
	bypassView := newView(tbl, &role{bypass: true}, []string{"id", "owner", "secret"})
	snap := &Snapshot{
		tables: map[[2]string]*table{{"public", "notes"}: tbl},
		roles: map[string]*role{
			"authenticated": {name: "authenticated", usable: true, views: map[[2]string]*View{{"public", "notes"}: rlsView}},
			"service_role":  {name: "service_role", usable: true, views: map[[2]string]*View{{"public", "notes"}: bypassView}},
		},
	}
	subject := func(role, sub string) *Subject {
		s, err := NewSubject(map[string]any{"role": role, "sub": sub, "exp": 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice, alice2, bob, service := subject("authenticated", "a"), subject("authenticated", "a"), subject("authenticated", "b"), subject("service_role", "s")
	r := &Round{on: true, snap: snap}
	ins, del := notesChange(replication.Insert), notesChange(replication.Delete)
	if !r.NeedsCheck(ins) || r.NeedsCheck(del) {
		t.Fatal("NeedsCheck: inserts of an RLS table are checked, deletes are not")
	}
	hidden, err := filters.ParseFilter("secret=eq.s")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Subject{alice, alice2, bob, service, nil} {
		r.Add(ins, s, nil)
	}
	r.Add(ins, alice, nil)  // a repeat: no second row
	r.Add(ins, bob, hidden) // a filter on a hidden column matches nothing
	noKey := *ins
	noKey.New = append([]replication.Value{{}}, ins.New[1:]...)
	r.Add(&noKey, alice, nil) // a key that cannot be looked up is not visible
	if len(r.groups) != 2 {
		t.Fatalf("%d requests, want 2 (alice's claims, bob's)", len(r.groups))
	}
	if g := r.groups[0]; len(g.subjs) != 2 || len(g.req.Rows) != 1 || g.req.Rows[0][0] != "1" {
		t.Errorf("alice's request: %d subjects, rows %v; want 2 subjects and row [1]", len(g.subjs), g.req.Rows)
	}
	if v, ok, _ := r.ViewFor(ins, alice2); v != rlsView || ok {
		t.Error("before Check, a row of an RLS table is not visible")
	}
	if v, ok, _ := r.ViewFor(ins, service); v != bypassView || !ok {
		t.Error("a role that bypasses RLS sees the row without a check")
	}
}
