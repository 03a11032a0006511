package cluster

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/replication"
)

func sampleChanges() []replication.Change {
	rel := replication.NewRelation(16384, "public", "todos", 'd', []replication.Column{
		{Name: "id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
		{Name: "title", Type: "text", TypeOID: 25, TypeModifier: -1},
		{Name: "body", Type: "text", TypeOID: 25, TypeModifier: -1},
	})
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)
	return []replication.Change{
		{Op: replication.Insert, Rel: rel, CommitTime: at, Xid: 4000000123, LSN: 0x16B3748,
			New: []replication.Value{{State: replication.Text, Text: "1"}, {State: replication.Text, Text: "héllo.*>"}, {State: replication.Null}}},
		{Op: replication.Update, Rel: rel, CommitTime: at, Xid: 4000000123, LSN: 0x16B3800,
			New:      []replication.Value{{State: replication.Text, Text: "1"}, {State: replication.Text, Text: ""}, {State: replication.Unchanged}},
			Old:      []replication.Value{{State: replication.Text, Text: "1"}, {State: replication.Null}, {State: replication.Null}},
			OldIsKey: true},
		{Op: replication.Delete, Rel: rel, CommitTime: at, Xid: 4000000123, LSN: 0x16B3900,
			Old: []replication.Value{{State: replication.Text, Text: "1"}, {State: replication.Text, Text: "x"}, {State: replication.Text, Text: "y"}}},
		{Op: replication.Truncate, Rel: rel, CommitTime: at, Xid: 4000000123, LSN: 0x16B3A00},
	}
}

func TestRunRoundTrip(t *testing.T) {
	in := sampleChanges()
	msg := appendRun(nil, 0x16B3B00, 7, in[0].CommitTime, in)
	d := newRunDecoder()
	r, err := d.decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if r.final != 0x16B3B00 || r.first != 7 {
		t.Fatalf("position = (%s, %d), want (0/16B3B00, 7)", r.final, r.first)
	}
	if len(r.changes) != len(in) {
		t.Fatalf("%d changes, want %d", len(r.changes), len(in))
	}
	for i := range in {
		got, want := r.changes[i], in[i]
		if !got.CommitTime.Equal(want.CommitTime) {
			t.Errorf("change %d: commit time %v, want %v", i, got.CommitTime, want.CommitTime)
		}
		if got.Op != want.Op || got.LSN != want.LSN || got.Xid != want.Xid || got.OldIsKey != want.OldIsKey ||
			!reflect.DeepEqual(got.New, want.New) || !reflect.DeepEqual(got.Old, want.Old) {
			t.Errorf("change %d:\n got %+v\nwant %+v", i, got, want)
		}
		if !reflect.DeepEqual(got.Rel.Columns, want.Rel.Columns) || got.Rel.Schema != "public" || got.Rel.Table != "todos" ||
			got.Rel.ReplicaIdentity != 'd' || got.Rel.ColumnIndex("body") != 2 {
			t.Errorf("change %d: relation %+v", i, got.Rel)
		}
	}
	// The next message with the same shape shares the relation, so the
	// hub's per-relation caches hit; a new shape gets a new one.
	again, err := d.decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if again.changes[0].Rel != r.changes[0].Rel {
		t.Error("same shape decoded into a new *Relation")
	}
	altered := sampleChanges()
	altered[0].Rel = replication.NewRelation(16384, "public", "todos", 'f', altered[0].Rel.Columns)
	r3, err := d.decode(appendRun(nil, 0x16B3C00, 0, altered[0].CommitTime, altered[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if r3.changes[0].Rel == r.changes[0].Rel || r3.changes[0].Rel.ReplicaIdentity != 'f' {
		t.Error("a changed shape kept the old *Relation")
	}
}

func TestRunDecodeRejectsMalformed(t *testing.T) {
	good := appendRun(nil, 1, 0, time.Unix(0, 0), sampleChanges())
	for n := 0; n < len(good); n++ {
		if _, err := newRunDecoder().decode(good[:n]); !errors.Is(err, errRun) {
			t.Fatalf("prefix of %d bytes: err = %v, want errRun", n, err)
		}
	}
	if _, err := newRunDecoder().decode(append(good, 0)); !errors.Is(err, errRun) {
		t.Errorf("trailing byte: err = %v", err)
	}
	bad := append([]byte(nil), good...)
	bad[0] = 9
	if _, err := newRunDecoder().decode(bad); !errors.Is(err, errRun) {
		t.Errorf("version 9: err = %v", err)
	}
}

// FuzzDecodeRun feeds arbitrary bytes to the decoder: it must return an
// error or changes whose rows match their relation, never panic.
func FuzzDecodeRun(f *testing.F) {
	ch := sampleChanges()
	f.Add(appendRun(nil, 0x16B3B00, 3, ch[0].CommitTime, ch))
	f.Add(appendRun(nil, 1, 0, time.Unix(0, 0), ch[3:]))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := newRunDecoder().decode(msg)
		if err != nil {
			return
		}
		for _, c := range r.changes {
			n := len(c.Rel.Columns)
			if c.New != nil && len(c.New) != n || c.Old != nil && len(c.Old) != n {
				t.Fatalf("row length differs from %d columns: %+v", n, c)
			}
		}
		// What decodes encodes back to the same bytes.
		if len(r.changes) > 0 {
			again := appendRun(nil, r.final, r.first, r.changes[0].CommitTime, r.changes)
			if _, err := newRunDecoder().decode(again); err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
		}
	})
}

func TestPositionAdmit(t *testing.T) {
	mk := func(final pglogrepl.LSN, first, n int) replication.Batch {
		return replication.Batch{FinalLSN: final, First: first, Changes: make([]replication.Change, n)}
	}
	var p position
	steps := []struct {
		b        replication.Batch
		keep     int
		keptFrom int
	}{
		{mk(100, 0, 3), 3, 0},     // first transaction, changes 0-2
		{mk(100, 0, 3), 0, 0},     // replayed after a failover: all seen
		{mk(100, 2, 4), 3, 3},     // overlaps: 2 seen, 3-5 new
		{mk(90, 0, 5), 0, 0},      // an older transaction
		{mk(200, 0, 1), 1, 0},     // the next transaction
		{mk(200, 0, 0), 0, 0},     // an empty commit batch
		{mk(300, 512, 2), 2, 512}, // a later part of a large transaction
	}
	for i, s := range steps {
		got := p.admit(s.b)
		if len(got.Changes) != s.keep || (s.keep > 0 && got.First != s.keptFrom) {
			t.Fatalf("step %d: kept %d from %d, want %d from %d", i, len(got.Changes), got.First, s.keep, s.keptFrom)
		}
	}
}
