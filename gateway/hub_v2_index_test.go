package gateway

import (
	"sort"
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/replication"
)

// Bindings with one equality filter are found by value; the others are all
// visited; a column whose type changed visits every indexed binding; a
// removed binding is gone.
func TestPGIndexEq(t *testing.T) {
	ix := newPGIndex()
	sub := func(name, col, typ, value string) *pgSub {
		b := &binding{schema: "public", table: "todos", event: "*"}
		if col != "" {
			v, ok := canonicalEq(typ, value)
			if !ok {
				t.Fatalf("canonicalEq(%s, %s)", typ, value)
			}
			b.eq = &eqKey{column: col, typ: typ, value: v}
		}
		return &pgSub{topic: name, b: b}
	}
	five, fiveAgain, six := sub("id5", "id", "int8", "05"), sub("id5b", "id", "int8", "5"), sub("id6", "id", "int8", "6")
	milk, all := sub("milk", "title", "text", "milk"), sub("all", "", "", "")
	for _, s := range []*pgSub{five, fiveAgain, six, milk, all} {
		ix.add(s)
	}
	visit := func(ch *replication.Change) string {
		var got []string
		ix.each(ch, func(s *pgSub) { got = append(got, s.topic) })
		sort.Strings(got)
		return strings.Join(got, " ")
	}
	ch := todoChange(replication.Insert, "5", "milk", "f").Changes[0]
	if got := visit(&ch); got != "all id5 id5b milk" {
		t.Errorf("insert id 5 milk visits %q", got)
	}
	del := todoChange(replication.Delete, "6", "", "").Changes[0]
	if got := visit(&del); got != "all id6" {
		t.Errorf("delete id 6 (key-only old row) visits %q", got)
	}
	retyped := ch
	rel := *ch.Rel
	rel.Columns = append([]replication.Column(nil), ch.Rel.Columns...)
	rel.Columns[0].Type = "numeric"
	retyped.Rel = replication.NewRelation(rel.ID, rel.Schema, rel.Table, rel.ReplicaIdentity, rel.Columns)
	if got := visit(&retyped); got != "all id5 id5b id6 milk" {
		t.Errorf("after ALTER TYPE visits %q", got)
	}
	ix.remove(five)
	ix.remove(milk)
	if got := visit(&ch); got != "all id5b" {
		t.Errorf("after removals visits %q", got)
	}
	ix.remove(fiveAgain)
	ix.remove(six)
	if len(ix.eq) != 0 {
		t.Errorf("index keeps %v", ix.eq)
	}
}
