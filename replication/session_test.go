package replication

import (
	"log/slog"
	"reflect"
	"testing"

	"github.com/jackc/pglogrepl"
)

// TestSessionSkipsWhatWasHandedOut drives the transaction bookkeeping of
// two sessions directly, as if the connection broke in the middle of a
// transaction that had already gone out in part, and PostgreSQL then sent
// everything again from an older position. The end-to-end restart test
// cannot force PostgreSQL to do that, because the stream asks it to start
// after the last handed transaction.
func TestSessionSkipsWhatWasHandedOut(t *testing.T) {
	s, err := New(Config{ConnString: "postgres://localhost/db", BatchSize: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Batch, 100)
	rel := NewRelation(1, "public", "t", 'd', []Column{{Name: "id", Type: "text"}})
	feed := func(ss *session, final pglogrepl.LSN, ids []string, commit bool) {
		t.Helper()
		ss.begin(message{kind: msgBegin, finalLSN: final})
		for _, id := range ids {
			if err := ss.add(t.Context(), out, append(ss.pending, Change{Op: Insert, Rel: rel, New: []Value{{State: Text, Text: id}}})); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := ss.commit(t.Context(), out, message{kind: msgCommit, commitLSN: final, endLSN: final + 8}); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := &session{s: s}
	feed(first, 100, []string{"a1"}, true)
	feed(first, 200, []string{"b1", "b2", "b3", "b4", "b5"}, false) // the connection breaks here

	second := &session{s: s}
	feed(second, 100, []string{"a1"}, true)
	feed(second, 200, []string{"b1", "b2", "b3", "b4", "b5"}, true)
	feed(second, 300, []string{"c1"}, true)
	s.markGap() // as a new temporary slot would
	feed(second, 400, nil, true)
	feed(second, 500, []string{"e1"}, true)
	close(out)

	type batch struct {
		ids    []string
		commit bool
		lsn    pglogrepl.LSN
		gap    bool
	}
	var got []batch
	for b := range out {
		var ids []string
		for _, ch := range b.Changes {
			ids = append(ids, ch.New[0].Text)
		}
		got = append(got, batch{ids, b.Commit, b.CommitLSN, b.Gap})
	}
	want := []batch{
		{[]string{"a1"}, true, 108, false},
		{[]string{"b1", "b2"}, false, 0, false},
		{[]string{"b3", "b4"}, false, 0, false},
		{[]string{"b5"}, true, 208, false},
		{[]string{"c1"}, true, 308, false},
		{nil, true, 408, true}, // an empty transaction still goes out, to be confirmed
		{[]string{"e1"}, true, 508, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batches:\n got %+v\nwant %+v", got, want)
	}
}
