package cluster

import "testing"

func TestSubjects(t *testing.T) {
	s := subjects{prefix: "realtime"}
	cases := []struct {
		ref  TableRef
		want string
	}{
		{TableRef{Schema: "*", Table: "*"}, "realtime.changes.>"},
		{TableRef{Schema: "public", Table: "*"}, "realtime.changes.public.*"},
		{TableRef{Schema: "*", Table: "todos"}, "realtime.changes.*.todos"},
		{TableRef{Schema: "public", Table: "todos"}, "realtime.changes.public.todos"},
		{TableRef{Schema: "my.schema", Table: "a b*>%"}, "realtime.changes.my%2Eschema.a%20b%2A%3E%25"},
	}
	for _, c := range cases {
		if got := s.changesOf(c.ref); got != c.want {
			t.Errorf("changesOf(%+v) = %q, want %q", c.ref, got, c.want)
		}
	}
	// Distinct names never share a subject.
	if token("a.b") == token("a%2Eb") || token("") == token("%00") {
		t.Error("escaping is not one-to-one")
	}
	if s.changes("public", "todos") != s.changesOf(TableRef{Schema: "public", Table: "todos"}) {
		t.Error("publish and subscribe subjects differ")
	}
	if got := s.room("realtime:room:1"); got != "realtime.room.realtime:room:1" {
		t.Errorf("room subject %q", got)
	}
	for _, p := range []string{"realtime", "acme.rt-1"} {
		if !validPrefix(p) {
			t.Errorf("prefix %q refused", p)
		}
	}
	for _, p := range []string{"", "a..b", "a.*", "a b", "x.>"} {
		if validPrefix(p) {
			t.Errorf("prefix %q accepted", p)
		}
	}
}
