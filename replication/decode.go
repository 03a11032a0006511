package replication

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"
)

// DecodeError is a pgoutput message the stream could not decode. The stream
// reconnects after one; PostgreSQL then sends the transaction again.
type DecodeError struct {
	LSN pglogrepl.LSN // WAL position of the message
	Len int           // length of the message in bytes
	// Panic is true when a decoder panicked and the panic was recovered.
	// checkFrame exists so that this never happens; FuzzDecode holds it to that.
	Panic bool
	Err   error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode pgoutput message at %s (%d bytes): %v", e.LSN, e.Len, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// msgKind is what a decoded message means for the stream's transaction state.
type msgKind uint8

const (
	msgOther    msgKind = iota // Type, Origin, logical decoding message: nothing to hand on
	msgBegin                   // a transaction starts
	msgChange                  // one or more Changes were appended
	msgCommit                  // the transaction ends
	msgRelation                // a table's shape was (re)announced
)

// message is the stream-relevant part of one decoded pgoutput message.
type message struct {
	kind       msgKind
	finalLSN   pglogrepl.LSN // begin: LSN of the commit record
	commitLSN  pglogrepl.LSN // commit: LSN of the commit record
	endLSN     pglogrepl.LSN // commit: end of the commit record, what the consumer confirms
	commitTime time.Time     // begin and commit
	rel        *Relation     // relation
}

// decoder turns pgoutput protocol version 1 messages into Changes. It is
// owned by the Run goroutine and lives for one replication connection:
// PostgreSQL announces every relation and type again on a new connection, so
// nothing learned on an earlier one is kept.
type decoder struct {
	builtin   *pgtype.Map
	relations map[uint32]*Relation
	typeNames map[uint32]string // from Type messages and catalog lookups
	// lookupType names a type that pgtype does not know and no Type message
	// named: pgoutput sends Type messages only for user-defined types, so
	// built-in types missing from pgtype (money, timetz, pg_lsn…) end up here.
	// Nil (fuzzing, benchmarks) leaves the name empty.
	lookupType func(oid uint32) (string, error)
	// precheck is checkFrame; a test replaces it to reach pglogrepl's panics.
	precheck func([]byte) error

	inTx       bool
	commitTime time.Time
	xid        uint32
}

func newDecoder(lookupType func(uint32) (string, error)) *decoder {
	return &decoder{
		builtin:    pgtype.NewMap(),
		relations:  map[uint32]*Relation{},
		typeNames:  map[uint32]string{},
		lookupType: lookupType,
		precheck:   checkFrame,
	}
}

// decode decodes one pgoutput message found at lsn, appending any Changes to
// dst. data is only read during the call (the receive buffer is reused), so
// every string kept is a copy. A panic in a decoder becomes a *DecodeError.
func (d *decoder) decode(lsn pglogrepl.LSN, data []byte, dst []Change) (m message, out []Change, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, out = message{}, dst
			err = &DecodeError{LSN: lsn, Len: len(data), Panic: true, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if err := d.precheck(data); err != nil {
		return message{}, dst, &DecodeError{LSN: lsn, Len: len(data), Err: err}
	}
	switch data[0] {
	case 'O', 'M':
		// Origins only matter to multi-master setups, and logical decoding
		// messages are not requested (no "messages" option): skip both.
		return message{}, dst, nil
	}
	parsed, err := pglogrepl.Parse(data)
	if err != nil {
		return message{}, dst, &DecodeError{LSN: lsn, Len: len(data), Err: err}
	}
	m, out, err = d.apply(lsn, parsed, dst)
	if err != nil {
		return message{}, dst, &DecodeError{LSN: lsn, Len: len(data), Err: err}
	}
	return m, out, nil
}

// apply folds one parsed message into the decoder's state.
func (d *decoder) apply(lsn pglogrepl.LSN, parsed pglogrepl.Message, dst []Change) (message, []Change, error) {
	switch msg := parsed.(type) {
	case *pglogrepl.BeginMessage:
		if d.inTx {
			return message{}, dst, fmt.Errorf("begin of transaction %d inside another transaction", msg.Xid)
		}
		d.inTx, d.commitTime, d.xid = true, msg.CommitTime, msg.Xid
		return message{kind: msgBegin, finalLSN: msg.FinalLSN, commitTime: msg.CommitTime}, dst, nil
	case *pglogrepl.CommitMessage:
		if !d.inTx {
			return message{}, dst, fmt.Errorf("commit at %s outside a transaction", msg.CommitLSN)
		}
		d.inTx = false
		return message{kind: msgCommit, commitLSN: msg.CommitLSN, endLSN: msg.TransactionEndLSN, commitTime: msg.CommitTime}, dst, nil
	case *pglogrepl.RelationMessage:
		rel, err := d.relation(msg)
		if err != nil {
			return message{}, dst, err
		}
		return message{kind: msgRelation, rel: rel}, dst, nil
	case *pglogrepl.TypeMessage:
		// The plain name, as the original reports it (no schema qualification).
		d.typeNames[msg.DataType] = msg.Name
		return message{}, dst, nil
	}
	if !d.inTx {
		return message{}, dst, fmt.Errorf("%s message outside a transaction", parsed.Type())
	}
	out, err := d.change(lsn, parsed, dst)
	if err != nil {
		return message{}, dst, err
	}
	return message{kind: msgChange}, out, nil
}

// change decodes a row message (INSERT, UPDATE, DELETE, TRUNCATE).
func (d *decoder) change(lsn pglogrepl.LSN, parsed pglogrepl.Message, dst []Change) ([]Change, error) {
	var err error
	switch msg := parsed.(type) {
	case *pglogrepl.InsertMessage:
		ch := Change{Op: Insert, CommitTime: d.commitTime, LSN: lsn, Xid: d.xid}
		if ch.Rel, err = d.rel(msg.RelationID); err != nil {
			return dst, err
		}
		if ch.New, err = tupleValues(ch.Rel, msg.Tuple); err != nil {
			return dst, err
		}
		return append(dst, ch), nil
	case *pglogrepl.UpdateMessage:
		ch := Change{Op: Update, CommitTime: d.commitTime, LSN: lsn, Xid: d.xid}
		if ch.Rel, err = d.rel(msg.RelationID); err != nil {
			return dst, err
		}
		if ch.New, err = tupleValues(ch.Rel, msg.NewTuple); err != nil {
			return dst, err
		}
		if msg.OldTuple != nil {
			if ch.Old, err = tupleValues(ch.Rel, msg.OldTuple); err != nil {
				return dst, err
			}
			ch.OldIsKey = msg.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey
			if !ch.OldIsKey {
				fillUnchanged(ch.New, ch.Old)
			}
		}
		return append(dst, ch), nil
	case *pglogrepl.DeleteMessage:
		ch := Change{Op: Delete, CommitTime: d.commitTime, LSN: lsn, Xid: d.xid}
		if ch.Rel, err = d.rel(msg.RelationID); err != nil {
			return dst, err
		}
		if ch.Old, err = tupleValues(ch.Rel, msg.OldTuple); err != nil {
			return dst, err
		}
		ch.OldIsKey = msg.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey
		return append(dst, ch), nil
	case *pglogrepl.TruncateMessage:
		// One Change per table, as the original publishes one message per table.
		n := len(dst)
		for _, id := range msg.RelationIDs {
			rel, err := d.rel(id)
			if err != nil {
				return dst[:n], err
			}
			dst = append(dst, Change{Op: Truncate, Rel: rel, CommitTime: d.commitTime, LSN: lsn, Xid: d.xid})
		}
		return dst, nil
	}
	return dst, fmt.Errorf("unexpected %s message", parsed.Type())
}

func (d *decoder) rel(id uint32) (*Relation, error) {
	if r, ok := d.relations[id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("row for relation %d that was never announced", id)
}

// relation builds and caches a Relation from a Relation message. It builds a
// new *Relation rather than updating the old one, so Changes already handed
// out keep the shape they were written with.
func (d *decoder) relation(msg *pglogrepl.RelationMessage) (*Relation, error) {
	cols := make([]Column, len(msg.Columns))
	for i, c := range msg.Columns {
		name, err := d.typeName(c.DataType)
		if err != nil {
			return nil, fmt.Errorf("name type %d of column %s.%s.%s: %w", c.DataType, msg.Namespace, msg.RelationName, c.Name, err)
		}
		cols[i] = Column{Name: c.Name, Type: name, TypeOID: c.DataType, TypeModifier: c.TypeModifier, Key: c.Flags&1 != 0}
	}
	rel := NewRelation(msg.RelationID, msg.Namespace, msg.RelationName, msg.ReplicaIdentity, cols)
	d.relations[msg.RelationID] = rel
	return rel, nil
}

func (d *decoder) typeName(oid uint32) (string, error) {
	if t, ok := d.builtin.TypeForOID(oid); ok {
		return t.Name, nil
	}
	if name, ok := d.typeNames[oid]; ok {
		return name, nil
	}
	if d.lookupType == nil {
		return "", nil
	}
	name, err := d.lookupType(oid)
	if err != nil {
		return "", err
	}
	d.typeNames[oid] = name
	return name, nil
}

// tupleValues converts a tuple to one Value per relation column.
func tupleValues(rel *Relation, t *pglogrepl.TupleData) ([]Value, error) {
	if t == nil {
		return nil, fmt.Errorf("%s.%s: missing tuple", rel.Schema, rel.Table)
	}
	if len(t.Columns) != len(rel.Columns) {
		return nil, fmt.Errorf("%s.%s: tuple has %d columns, relation has %d", rel.Schema, rel.Table, len(t.Columns), len(rel.Columns))
	}
	vals := make([]Value, len(t.Columns))
	// One string holds every text value of the tuple and each Value is a
	// slice of it: one allocation per row instead of one per column.
	size := 0
	for _, c := range t.Columns {
		if c.DataType == pglogrepl.TupleDataTypeText {
			size += len(c.Data)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for _, c := range t.Columns {
		if c.DataType == pglogrepl.TupleDataTypeText {
			b.Write(c.Data)
		}
	}
	all := b.String()
	off := 0
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			// The zero Value is Null.
		case pglogrepl.TupleDataTypeText:
			vals[i] = Value{State: Text, Text: all[off : off+len(c.Data)]}
			off += len(c.Data)
		case pglogrepl.TupleDataTypeToast:
			vals[i].State = Unchanged
		default:
			// 'b' only comes with the binary option, which the stream never sets.
			return nil, fmt.Errorf("%s.%s: column %s has value kind %q, want text", rel.Schema, rel.Table, rel.Columns[i].Name, c.DataType)
		}
	}
	return vals, nil
}

// fillUnchanged completes a new row from a full old row: PostgreSQL does not
// resend unchanged TOASTed values, but REPLICA IDENTITY FULL logs them in the
// old row, so clients get whole records.
func fillUnchanged(newRow, oldRow []Value) {
	for i := range newRow {
		if newRow[i].State == Unchanged && i < len(oldRow) && oldRow[i].State == Text {
			newRow[i] = oldRow[i]
		}
	}
}
