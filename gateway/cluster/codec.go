package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/replication"
)

// A run is what one NATS message carries: consecutive changes of one
// transaction to one table, so that a node subscribed to several tables
// still sees them in WAL order. Its layout:
//
//	version 2 | final LSN | first index | commit time (unix ns) | xid
//	relation: id | schema | table | replica identity | column count | columns
//	  column: name | type | type OID | type modifier | key (0/1)
//	change count | changes
//	  change: op | LSN | flags (bit 0: new row, bit 1: old row, bit 2: old is key) | rows
//	  row: value count | values; value: state | text (state Text only)
//
// Integers are varints, strings a varint length and the bytes.
//
// Version 1 had no xid; it is still read (xid 0: unknown).
const runVersion = 2

// maxRunColumns bounds what a decoder accepts (PostgreSQL allows 1600).
const maxRunColumns = 1664

var errRun = errors.New("malformed change message")

// appendRun encodes changes (non-empty, one relation, in order) of the
// transaction whose commit record is at final, starting at index first.
func appendRun(dst []byte, final pglogrepl.LSN, first int, commit time.Time, changes []replication.Change) []byte {
	dst = append(dst, runVersion)
	dst = binary.AppendUvarint(dst, uint64(final))
	dst = binary.AppendUvarint(dst, uint64(first))
	dst = binary.AppendVarint(dst, commit.UnixNano())
	// Authorization waits for the transaction to be visible before asking
	// the database about its rows.
	dst = binary.AppendUvarint(dst, uint64(changes[0].Xid))
	rel := changes[0].Rel
	dst = binary.AppendUvarint(dst, uint64(rel.ID))
	dst = appendStr(dst, rel.Schema)
	dst = appendStr(dst, rel.Table)
	dst = append(dst, rel.ReplicaIdentity)
	dst = binary.AppendUvarint(dst, uint64(len(rel.Columns)))
	for _, c := range rel.Columns {
		dst = appendStr(dst, c.Name)
		dst = appendStr(dst, c.Type)
		dst = binary.AppendUvarint(dst, uint64(c.TypeOID))
		dst = binary.AppendVarint(dst, int64(c.TypeModifier))
		dst = appendBool(dst, c.Key)
	}
	dst = binary.AppendUvarint(dst, uint64(len(changes)))
	for i := range changes {
		ch := &changes[i]
		dst = append(dst, byte(ch.Op))
		dst = binary.AppendUvarint(dst, uint64(ch.LSN))
		var f byte
		if ch.New != nil {
			f |= 1
		}
		if ch.Old != nil {
			f |= 2
		}
		if ch.OldIsKey {
			f |= 4
		}
		dst = append(dst, f)
		if ch.New != nil {
			dst = appendRow(dst, ch.New)
		}
		if ch.Old != nil {
			dst = appendRow(dst, ch.Old)
		}
	}
	return dst
}

func appendRow(dst []byte, vals []replication.Value) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	for _, v := range vals {
		dst = append(dst, byte(v.State))
		if v.State == replication.Text {
			dst = appendStr(dst, v.Text)
		}
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// run is a decoded message.
type run struct {
	final   pglogrepl.LSN
	first   int
	changes []replication.Change
}

// runDecoder decodes runs. It keeps one *Relation per shape, so that the
// hub's per-relation caches keep working across messages. Not safe for
// concurrent use.
type runDecoder struct {
	rels map[uint32]*replication.Relation
}

func newRunDecoder() *runDecoder { return &runDecoder{rels: map[uint32]*replication.Relation{}} }

// decode parses msg. Every string of the result points into one copy of msg.
func (d *runDecoder) decode(msg []byte) (run, error) {
	if len(msg) < 1 || msg[0] != runVersion && msg[0] != 1 {
		return run{}, fmt.Errorf("%w: unknown version", errRun)
	}
	r := reader{s: string(msg), i: 1}
	var out run
	out.final = pglogrepl.LSN(r.uvarint())
	out.first = int(r.uvarint())
	commit := time.Unix(0, r.varint())
	var xid uint32
	if msg[0] >= 2 {
		xid = uint32(r.uvarint())
	}
	id := uint32(r.uvarint())
	schema, table := r.str(), r.str()
	identity := r.byte()
	ncols := r.count(maxRunColumns)
	cols := make([]replication.Column, ncols)
	for i := range cols {
		cols[i] = replication.Column{Name: r.str(), Type: r.str(), TypeOID: uint32(r.uvarint()), TypeModifier: int32(r.varint()), Key: r.byte() == 1}
	}
	n := r.count(len(msg))
	if r.err != nil {
		return run{}, r.err
	}
	rel := d.relation(id, schema, table, identity, cols)
	out.changes = make([]replication.Change, n)
	for i := range out.changes {
		ch := &out.changes[i]
		ch.Rel, ch.CommitTime, ch.Xid = rel, commit, xid
		ch.Op = replication.Op(r.byte())
		if ch.Op < replication.Insert || ch.Op > replication.Truncate {
			return run{}, fmt.Errorf("%w: unknown operation %d", errRun, ch.Op)
		}
		ch.LSN = pglogrepl.LSN(r.uvarint())
		f := r.byte()
		if f&1 != 0 {
			ch.New = r.row(ncols)
		}
		if f&2 != 0 {
			ch.Old = r.row(ncols)
		}
		ch.OldIsKey = f&4 != 0
		if r.err != nil {
			return run{}, r.err
		}
	}
	if r.i != len(r.s) {
		return run{}, fmt.Errorf("%w: %d bytes after the last change", errRun, len(r.s)-r.i)
	}
	return out, nil
}

// relation returns the known *Relation when its shape is unchanged.
func (d *runDecoder) relation(id uint32, schema, table string, identity byte, cols []replication.Column) *replication.Relation {
	if old := d.rels[id]; old != nil && old.Schema == schema && old.Table == table && old.ReplicaIdentity == identity && slices.Equal(old.Columns, cols) {
		return old
	}
	rel := replication.NewRelation(id, schema, table, identity, cols)
	d.rels[id] = rel
	return rel
}

// reader reads a message; the first error sticks and later reads return
// zero values.
type reader struct {
	s   string
	i   int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errRun, what, r.i)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.i >= len(r.s) {
		r.fail("truncated")
		return 0
	}
	b := r.s[r.i]
	r.i++
	return b
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(r.s[r.i:min(len(r.s), r.i+binary.MaxVarintLen64)]))
	if n <= 0 {
		r.fail("bad integer")
		return 0
	}
	r.i += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint([]byte(r.s[r.i:min(len(r.s), r.i+binary.MaxVarintLen64)]))
	if n <= 0 {
		r.fail("bad integer")
		return 0
	}
	r.i += n
	return v
}

// count reads a length that may be at most limit.
func (r *reader) count(limit int) int {
	v := r.uvarint()
	if v > uint64(limit) {
		r.fail("count too large")
		return 0
	}
	return int(v)
}

func (r *reader) str() string {
	v := r.uvarint()
	if r.err == nil && v > uint64(len(r.s)-r.i) {
		r.fail("string past the end")
	}
	if r.err != nil {
		return ""
	}
	n := int(v)
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}

// row reads one tuple, which must have one value per column.
func (r *reader) row(ncols int) []replication.Value {
	n := r.count(ncols)
	if r.err == nil && n != ncols {
		r.fail("row with a different number of values than columns")
	}
	if r.err != nil {
		return nil
	}
	vals := make([]replication.Value, n)
	for i := range vals {
		st := replication.ValueState(r.byte())
		if st > replication.Unchanged {
			r.fail("unknown value state")
			return nil
		}
		vals[i].State = st
		if st == replication.Text {
			vals[i].Text = r.str()
		}
	}
	return vals
}
