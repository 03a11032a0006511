package replication

import (
	"time"

	"github.com/jackc/pglogrepl"
)

// Op is the kind of row change.
type Op uint8

const (
	Insert Op = iota + 1
	Update
	Delete
	Truncate
)

// String returns the name the wire protocol uses for the change type.
func (o Op) String() string {
	switch o {
	case Insert:
		return "INSERT"
	case Update:
		return "UPDATE"
	case Delete:
		return "DELETE"
	case Truncate:
		return "TRUNCATE"
	}
	return "UNKNOWN"
}

// Column describes one column of a relation as pgoutput announced it.
type Column struct {
	Name string
	// Type is the PostgreSQL type name: the built-in name for built-in OIDs
	// (int8, _text, timestamptz...), else the name from pgoutput's Type message.
	Type         string
	TypeOID      uint32
	TypeModifier int32
	// Key is true for columns in the replica identity (every column under
	// REPLICA IDENTITY FULL).
	Key bool
}

// Relation is an immutable snapshot of a table's shape. A new Relation
// message from PostgreSQL produces a new *Relation, so a Change can keep
// pointing at the shape its tuples were written with.
type Relation struct {
	ID      uint32
	Schema  string
	Table   string
	Columns []Column
	// ReplicaIdentity is pgoutput's setting: 'd' default, 'f' full, 'i' index, 'n' nothing.
	ReplicaIdentity byte

	index map[string]int
}

// NewRelation builds a Relation and its column-name index.
func NewRelation(id uint32, schema, table string, identity byte, cols []Column) *Relation {
	r := &Relation{ID: id, Schema: schema, Table: table, ReplicaIdentity: identity, Columns: cols,
		index: make(map[string]int, len(cols))}
	for i, c := range cols {
		r.index[c.Name] = i
	}
	return r
}

// ColumnIndex returns the position of the named column, or -1.
func (r *Relation) ColumnIndex(name string) int {
	if i, ok := r.index[name]; ok {
		return i
	}
	return -1
}

// ValueState says what a tuple carries for one column.
type ValueState uint8

const (
	// Null is SQL NULL (or, in a key-only old tuple, a column that is not part of the key).
	Null ValueState = iota
	// Text holds the column's PostgreSQL text output in Value.Text.
	Text
	// Unchanged is an unchanged TOASTed value that PostgreSQL did not send.
	Unchanged
)

// Value is one column of a tuple in PostgreSQL's text format.
type Value struct {
	State ValueState
	Text  string
}

// Change is one decoded row change (or, for Truncate, one truncated table).
// It is immutable once handed to consumers.
type Change struct {
	Op  Op
	Rel *Relation
	// CommitTime is the commit time of the change's transaction (from BEGIN).
	CommitTime time.Time
	// LSN is the WAL position of the change itself.
	LSN pglogrepl.LSN
	// Xid is the 32-bit id of the change's transaction (0 when unknown).
	// PostgreSQL hands a commit to logical decoding a moment before other
	// sessions' snapshots see it: whoever reads the database about a change
	// must wait until Xid is visible.
	Xid uint32
	// New is the new row of an INSERT or UPDATE, one Value per Rel.Columns.
	// Unchanged TOAST values are already filled from Old when Old has them.
	New []Value
	// Old is the old row of an UPDATE or DELETE when PostgreSQL sent one:
	// the whole row under REPLICA IDENTITY FULL, the key columns (others Null)
	// under DEFAULT/INDEX. Nil when PostgreSQL sent no old tuple.
	Old []Value
	// OldIsKey is true when Old is a key-only tuple ('K'), false for a full old row ('O').
	OldIsKey bool
	// TooLarge is set by a consumer whose payload limit the change passes:
	// renderers then keep only small values and say so, as the original
	// does with "Error 413: Payload Too Large". Matching still sees every value.
	TooLarge bool
}

// RecordBytes estimates the JSON size of the change's largest row (new, or
// old when larger): names and values plus their quoting.
func (c *Change) RecordBytes() int {
	size := func(vals []Value) int {
		n := 2
		for i, v := range vals {
			if i < len(c.Rel.Columns) {
				n += len(c.Rel.Columns[i].Name) + len(v.Text) + 6
			}
		}
		return n
	}
	return max(size(c.New), size(c.Old))
}

// MaxKeptValueBytes is the largest value a TooLarge change still carries,
// as in the original (values whose JSON text is at most 64 bytes).
const MaxKeptValueBytes = 64

// Kept reports whether v goes into the payload of c.
func (c *Change) Kept(v Value) bool {
	return !c.TooLarge || len(v.Text)+2 <= MaxKeptValueBytes
}

// Batch is a run of changes handed from the stream to its consumer, in WAL
// order. A transaction may span several batches (large transactions are
// streamed, not buffered whole); the last batch of a transaction has Commit set.
type Batch struct {
	Changes []Change
	// Commit is true when this batch ends a transaction.
	Commit bool
	// CommitLSN is the end LSN of the transaction's commit record when Commit
	// is set: once the consumer has taken this batch it calls Stream.Confirm
	// with this LSN, and only then may PostgreSQL discard the WAL before it.
	CommitLSN pglogrepl.LSN
	// CommitTime is the transaction's commit time.
	CommitTime time.Time
	// FinalLSN is the LSN of the transaction's commit record, known from its
	// BEGIN, so set on every batch of a transaction. With First it places each
	// change in a total order: (FinalLSN, First+i) grows with every change the
	// stream hands out, across reconnects and slots. Consumers that see one
	// stream through several paths (a cluster's failover) drop what they
	// have already seen by it.
	FinalLSN pglogrepl.LSN
	// First is the index within its transaction of the batch's first change.
	First int
	// Gap is true on the first batch delivered after the stream had to start
	// from a new replication slot although an earlier slot had been streaming:
	// a temporary slot recreated after a reconnect, or a slot dropped because
	// it retained more WAL than MaxLagMB allowed. Changes committed while no
	// slot held them are lost, and a transaction handed out only in part before
	// the break will not be completed. Consumers should tell their clients
	// (for example ask them to refetch) instead of pretending continuity.
	Gap bool
	// Notice, when set, is news about the stream itself for the clients:
	// changes stopped flowing and why (on a Batch without changes), that
	// they flow again, or why a Gap happened. Consumers pass it on as is.
	Notice *Notice
}

// Notice is a message about the stream for the people behind the clients.
type Notice struct {
	// Stalled is true while changes are not flowing.
	Stalled bool
	// Skipped is true when changes committed meanwhile will never be
	// delivered: clients should refetch what they show.
	Skipped bool
	// Message says what happened and what the clients may have missed.
	Message string
}
