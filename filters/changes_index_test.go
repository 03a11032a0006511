package filters

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/replication"
)

var todoTypes = map[string]string{"id": "int8", "title": "text", "done": "bool"}

func todoChange(op replication.Op, id, title, done string) *replication.Change {
	rel := replication.NewRelation(7, "public", "todos", 'd', []replication.Column{
		{Name: "id", Type: "int8", Key: true}, {Name: "title", Type: "text"}, {Name: "done", Type: "bool"},
	})
	text := func(s string) replication.Value { return replication.Value{State: replication.Text, Text: s} }
	ch := &replication.Change{Op: op, Rel: rel}
	if op == replication.Delete {
		ch.Old, ch.OldIsKey = []replication.Value{text(id), {}, {}}, true
	} else {
		ch.New = []replication.Value{text(id), text(title), text(done)}
	}
	return ch
}

// binding parses raw and checks it against the todos table, as the
// gateway does at join.
func binding(t *testing.T, raw string) *Binding {
	t.Helper()
	b, err := ParseBinding(json.RawMessage(raw))
	if err != nil || b.Err != "" {
		t.Fatalf("ParseBinding(%s) = %+v, %v", raw, b, err)
	}
	for i := range b.Filter {
		if err := b.Filter[i].Bind(todoTypes[b.Filter[i].Column]); err != nil {
			t.Fatal(err)
		}
	}
	b.IndexByValue(todoTypes)
	return b
}

func visit(ix *ChangesIndex[string], ch *replication.Change) string {
	var got []string
	ix.Match(ch, func(s string, _ *Binding) { got = append(got, s) })
	sort.Strings(got)
	return strings.Join(got, " ")
}

// Bindings with one equality filter are found by value; the others are all
// visited; a column whose type changed visits every indexed binding; a
// removed binding is gone.
func TestChangesIndexEq(t *testing.T) {
	ix := NewChangesIndex[string]()
	five := binding(t, `{"table":"todos","filter":"id=eq.05"}`)
	fiveAgain := binding(t, `{"table":"todos","filter":"id=eq.5"}`)
	six := binding(t, `{"table":"todos","filter":"id=eq.6"}`)
	milk := binding(t, `{"table":"todos","filter":"title=eq.milk"}`)
	all := binding(t, `{"table":"todos"}`)
	for name, b := range map[string]*Binding{"id5": five, "id5b": fiveAgain, "id6": six, "milk": milk, "all": all} {
		if b != all && b.eq == nil {
			t.Fatalf("%s is not indexed by value", name)
		}
		ix.Add(b, name)
	}
	ch := todoChange(replication.Insert, "5", "milk", "f")
	if got := visit(ix, ch); got != "all id5 id5b milk" {
		t.Errorf("insert id 5 milk visits %q", got)
	}
	if got := visit(ix, todoChange(replication.Delete, "6", "", "")); got != "all id6" {
		t.Errorf("delete id 6 (key-only old row) visits %q", got)
	}
	retyped := *ch
	cols := append([]replication.Column(nil), ch.Rel.Columns...)
	cols[0].Type = "numeric"
	retyped.Rel = replication.NewRelation(ch.Rel.ID, ch.Rel.Schema, ch.Rel.Table, ch.Rel.ReplicaIdentity, cols)
	retyped.New = []replication.Value{{State: replication.Text, Text: "5.0"}, {}, {}}
	// Every id binding is tried; the bound filters compare as numeric now.
	if got := visit(ix, &retyped); got != "all id5 id5b" {
		t.Errorf("after ALTER TYPE visits %q", got)
	}
	ix.Remove(five)
	ix.Remove(milk)
	if got := visit(ix, ch); got != "all id5b" {
		t.Errorf("after removals visits %q", got)
	}
	ix.Remove(fiveAgain)
	ix.Remove(six)
	if len(ix.eq) != 0 {
		t.Errorf("index keeps %v", ix.eq)
	}
	ix.Remove(all)
	if !ix.Empty() {
		t.Errorf("index not empty: %+v", ix)
	}
}

// Bindings are found by table, by schema and for every schema, and only
// for the operations they want; TRUNCATE matches none.
func TestChangesIndexBuckets(t *testing.T) {
	ix := NewChangesIndex[string]()
	for name, raw := range map[string]string{
		"table":      `{"table":"todos"}`,
		"inserts":    `{"event":"INSERT","table":"todos"}`,
		"schema":     `{"schema":"public"}`,
		"schema*":    `{"schema":"public","table":"*"}`,
		"everything": `{"schema":"*"}`,
		"other":      `{"table":"other"}`,
		"done":       `{"event":"UPDATE","table":"todos","filter":"done=is.true"}`,
	} {
		ix.Add(binding(t, raw), name)
	}
	if got := visit(ix, todoChange(replication.Update, "1", "x", "t")); got != "done everything schema schema* table" {
		t.Errorf("update visits %q", got)
	}
	if got := visit(ix, todoChange(replication.Insert, "1", "x", "f")); got != "everything inserts schema schema* table" {
		t.Errorf("insert visits %q", got)
	}
	if got := visit(ix, todoChange(replication.Truncate, "", "", "")); got != "" {
		t.Errorf("truncate visits %q", got)
	}
}
