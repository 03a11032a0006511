package replication

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
)

func TestDecodeSequence(t *testing.T) {
	d := newDecoder(func(oid uint32) (string, error) {
		t.Errorf("lookupType(%d) called for a type a Type message named", oid)
		return "", nil
	})
	var changes []Change
	var kinds []msgKind
	for i, f := range validFrames() {
		m, out, err := d.decode(pglogrepl.LSN(0x1000+i), f, changes)
		if err != nil {
			t.Fatalf("frame %d (%q): %v", i, f[0], err)
		}
		changes = out
		kinds = append(kinds, m.kind)
	}
	wantKinds := []msgKind{msgOther, msgRelation, msgBegin, msgOther, msgChange, msgChange, msgChange, msgChange, msgChange, msgChange, msgChange, msgCommit}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("kinds = %v, want %v", kinds, wantKinds)
	}
	wantOps := []Op{Insert, Update, Update, Update, Delete, Delete, Truncate, Truncate}
	if len(changes) != len(wantOps) {
		t.Fatalf("got %d changes, want %d", len(changes), len(wantOps))
	}
	commitTime := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	for i, ch := range changes {
		if ch.Op != wantOps[i] {
			t.Errorf("change %d: Op = %v, want %v", i, ch.Op, wantOps[i])
		}
		if !ch.CommitTime.Equal(commitTime) {
			t.Errorf("change %d: CommitTime = %v, want %v", i, ch.CommitTime, commitTime)
		}
		if ch.Rel.Table != "service" || ch.Rel.Columns[4].Type != "mood" || ch.Rel.Columns[1].Type != "varchar" {
			t.Errorf("change %d: relation %+v", i, ch.Rel)
		}
	}
	if got := changes[1].Old; got != nil {
		t.Errorf("update without old tuple: Old = %v, want nil", got)
	}
	if ch := changes[2]; !ch.OldIsKey || ch.Old[0].Text != "1" || ch.Old[1].State != Null {
		t.Errorf("update with key tuple: Old = %v, OldIsKey = %v", ch.Old, ch.OldIsKey)
	}
	// The unchanged TOAST value of the new row comes from the full old row.
	if ch := changes[3]; ch.OldIsKey || ch.New[3] != (Value{State: Text, Text: "long text"}) {
		t.Errorf("update with old row: New[3] = %+v, OldIsKey = %v", ch.New[3], ch.OldIsKey)
	}
	if ch := changes[4]; !ch.OldIsKey || ch.New != nil {
		t.Errorf("delete with key: %+v", ch)
	}
	if ch := changes[5]; ch.OldIsKey || ch.Old[1].Text != "Reboque" {
		t.Errorf("delete with old row: %+v", ch)
	}
}

// TestDecodeUnchangedWithoutOldRow keeps 'u' when there is no full old row
// to fill it from (REPLICA IDENTITY DEFAULT).
func TestDecodeUnchangedWithoutOldRow(t *testing.T) {
	d := seededDecoder()
	_, out, err := d.decode(1, encUpdate(testRelID, 0, nil, []tv{txt("1"), null, txt("2"), unchanged, txt("sad")}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].New[3].State; got != Unchanged {
		t.Errorf("New[3].State = %v, want Unchanged", got)
	}
	if got := out[0].New[1].State; got != Null {
		t.Errorf("New[1].State = %v, want Null", got)
	}
}

func TestDecodeTypeNames(t *testing.T) {
	var looked []uint32
	d := newDecoder(func(oid uint32) (string, error) {
		looked = append(looked, oid)
		return "money", nil
	})
	cols := []Column{{Name: "a", TypeOID: 1007}, {Name: "b", TypeOID: 790}, {Name: "c", TypeOID: 16390}, {Name: "d", TypeOID: 790}}
	if _, _, err := d.decode(1, encType(16390, "app", "mood"), nil); err != nil {
		t.Fatal(err)
	}
	m, _, err := d.decode(2, encRelation(1, "public", "t", 'd', cols), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range m.rel.Columns {
		got = append(got, c.Type)
	}
	if want := []string{"_int4", "money", "mood", "money"}; !reflect.DeepEqual(got, want) {
		t.Errorf("types = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(looked, []uint32{790}) {
		t.Errorf("looked up %v, want [790] once", looked)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "empty message"},
		{"unknown type", []byte{'Z', 1, 2}, "unknown message type"},
		{"streaming", []byte{'S', 0, 0, 0, 1, 1}, "protocol version"},
		{"unknown relation", encInsert(99, txt("1")), "never announced"},
		{"column count", encInsert(testRelID, txt("1")), "tuple has 1 columns, relation has 5"},
		{"binary value", encInsert(testRelID, tv{'b', "x"}, null, null, null, null), "want text"},
		{"huge value", append(encInsert(testRelID)[:6], 0, 1, 't', 0xff, 0xff, 0xff, 0xff), "value of 4294967295 bytes"},
		{"huge truncate", []byte{'T', 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4}, "truncate: 4294967295 relations"},
		{"trailing bytes", append(encBegin(1, time.Now(), 1), 0), "trailing bytes"},
		{"begin in transaction", encBegin(1, time.Now(), 1), "inside another transaction"},
		{"bad tuple kind", encDelete(testRelID, 'X', txt("1")), "tuple kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := seededDecoder().decode(7, tc.msg, nil)
			var de *DecodeError
			if !errors.As(err, &de) || de.Panic || de.LSN != 7 || de.Len != len(tc.msg) {
				t.Fatalf("decode = %v, want a non-panic *DecodeError at 0/7", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if len(out) != 0 {
				t.Errorf("decode returned %d changes with an error", len(out))
			}
		})
	}
}

// TestDecodeShortFrames cuts every valid frame at every length: each must
// fail cleanly, caught by checkFrame before pglogrepl could panic.
func TestDecodeShortFrames(t *testing.T) {
	for _, f := range validFrames() {
		for n := 0; n < len(f); n++ {
			_, _, err := seededDecoder().decode(1, f[:n], nil)
			var de *DecodeError
			if !errors.As(err, &de) || de.Panic {
				t.Fatalf("decode(%q cut to %d of %d bytes) = %v, want a clean error", f[0], n, len(f), err)
			}
		}
	}
}

// TestDecodeRecoversPanics turns checkFrame off to show that a panic in
// pglogrepl still becomes an error carrying the LSN and length.
func TestDecodeRecoversPanics(t *testing.T) {
	d := seededDecoder()
	d.precheck = func([]byte) error { return nil }
	// Long enough for pglogrepl's length check, but the tuple's first value
	// has no length: pglogrepl reads past the end.
	_, out, err := d.decode(5, []byte{'I', 0, 0, 0x3e, 0x90, 'N', 0, 5, 't'}, nil)
	var de *DecodeError
	if !errors.As(err, &de) || !de.Panic || de.LSN != 5 || de.Len != 9 || out != nil {
		t.Fatalf("decode = %v, want a recovered panic at 0/5, 9 bytes", err)
	}
	if !strings.Contains(err.Error(), "at 0/5 (9 bytes)") {
		t.Errorf("error %q does not name the LSN and length", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, fr := range validFrames() {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := seededDecoder()
		m, out, err := d.decode(0x1000, data, nil)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			if de.Panic {
				t.Fatalf("a decoder panicked on %q: %v", data, err)
			}
			if len(out) != 0 {
				t.Fatalf("%d changes returned with an error", len(out))
			}
			return
		}
		for _, ch := range out {
			if ch.Rel == nil {
				t.Fatalf("change without relation: %+v", ch)
			}
			n := len(ch.Rel.Columns)
			if ch.New != nil && len(ch.New) != n || ch.Old != nil && len(ch.Old) != n {
				t.Fatalf("change %v has %d/%d values for %d columns", ch.Op, len(ch.New), len(ch.Old), n)
			}
		}
		if m.kind == msgRelation && m.rel == nil {
			t.Fatal("relation message without relation")
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	d := seededDecoder()
	msg := encInsert(testRelID, txt("12345"), txt("Reboque de veículos"), txt("2"), txt(strings.Repeat("x", 200)), txt("happy"))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	changes := make([]Change, 0, 1)
	for b.Loop() {
		_, out, err := d.decode(0x1000, msg, changes[:0])
		if err != nil || len(out) != 1 {
			b.Fatal(err)
		}
	}
}

// TestFrameEncodersMatchPglogrepl keeps the test encoders honest: pglogrepl
// must read back what they wrote.
func TestFrameEncodersMatchPglogrepl(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	m, err := pglogrepl.Parse(encCommit(0x10, 0x20, at))
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*pglogrepl.CommitMessage)
	if c.CommitLSN != 0x10 || c.TransactionEndLSN != 0x20 || !c.CommitTime.Equal(at) {
		t.Errorf("commit = %+v", c)
	}
	u, err := pglogrepl.Parse(encUpdate(1, 'O', []tv{txt("a")}, []tv{unchanged}))
	if err != nil {
		t.Fatal(err)
	}
	um := u.(*pglogrepl.UpdateMessage)
	if um.OldTupleType != 'O' || string(um.OldTuple.Columns[0].Data) != "a" || um.NewTuple.Columns[0].DataType != 'u' {
		t.Errorf("update = %+v", um)
	}
	if got := binary.BigEndian.Uint16(encRelation(1, "s", "t", 'd', testRelCols)[10:]); got != uint16(len(testRelCols)) {
		t.Errorf("relation column count = %d", got)
	}
}
