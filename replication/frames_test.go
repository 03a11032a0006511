package replication

import (
	"encoding/binary"
	"time"

	"github.com/jackc/pglogrepl"
)

// Encoders for pgoutput protocol version 1 messages, as PostgreSQL writes
// them (src/backend/replication/logical/proto.c), for decode tests, the fuzz
// corpus and the benchmark.

type tv struct {
	kind byte // 'n', 'u', 't'
	data string
}

func txt(s string) tv { return tv{'t', s} }

var (
	null      = tv{kind: 'n'}
	unchanged = tv{kind: 'u'}
)

func pgMicros(t time.Time) uint64 { return uint64(t.Sub(pgEpoch).Microseconds()) }

func encBegin(final pglogrepl.LSN, at time.Time, xid uint32) []byte {
	b := []byte{'B'}
	b = binary.BigEndian.AppendUint64(b, uint64(final))
	b = binary.BigEndian.AppendUint64(b, pgMicros(at))
	return binary.BigEndian.AppendUint32(b, xid)
}

func encCommit(commit, end pglogrepl.LSN, at time.Time) []byte {
	b := []byte{'C', 0}
	b = binary.BigEndian.AppendUint64(b, uint64(commit))
	b = binary.BigEndian.AppendUint64(b, uint64(end))
	return binary.BigEndian.AppendUint64(b, pgMicros(at))
}

func encRelation(id uint32, ns, name string, identity byte, cols []Column) []byte {
	b := []byte{'R'}
	b = binary.BigEndian.AppendUint32(b, id)
	b = append(append(b, ns...), 0)
	b = append(append(b, name...), 0)
	b = append(b, identity)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cols)))
	for _, c := range cols {
		flags := byte(0)
		if c.Key {
			flags = 1
		}
		b = append(b, flags)
		b = append(append(b, c.Name...), 0)
		b = binary.BigEndian.AppendUint32(b, c.TypeOID)
		b = binary.BigEndian.AppendUint32(b, uint32(c.TypeModifier))
	}
	return b
}

func encType(oid uint32, ns, name string) []byte {
	b := []byte{'Y'}
	b = binary.BigEndian.AppendUint32(b, oid)
	b = append(append(b, ns...), 0)
	return append(append(b, name...), 0)
}

func appendTuple(b []byte, vals []tv) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(vals)))
	for _, v := range vals {
		b = append(b, v.kind)
		if v.kind == 't' || v.kind == 'b' {
			b = binary.BigEndian.AppendUint32(b, uint32(len(v.data)))
			b = append(b, v.data...)
		}
	}
	return b
}

func encInsert(rel uint32, vals ...tv) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'I'}, rel)
	return appendTuple(append(b, 'N'), vals)
}

// encUpdate writes an UPDATE; oldKind 0 means no old tuple.
func encUpdate(rel uint32, oldKind byte, old, new []tv) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'U'}, rel)
	if oldKind != 0 {
		b = appendTuple(append(b, oldKind), old)
	}
	return appendTuple(append(b, 'N'), new)
}

func encDelete(rel uint32, kind byte, old ...tv) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'D'}, rel)
	return appendTuple(append(b, kind), old)
}

func encTruncate(options byte, rels ...uint32) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'T'}, uint32(len(rels)))
	b = append(b, options)
	for _, r := range rels {
		b = binary.BigEndian.AppendUint32(b, r)
	}
	return b
}

func encOrigin(lsn pglogrepl.LSN, name string) []byte {
	b := binary.BigEndian.AppendUint64([]byte{'O'}, uint64(lsn))
	return append(append(b, name...), 0)
}

// testRelation is the seed schema's service table, REPLICA IDENTITY FULL.
var testRelCols = []Column{
	{Name: "id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
	{Name: "name", Type: "varchar", TypeOID: 1043, TypeModifier: 259, Key: true},
	{Name: "status_id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
	{Name: "body", Type: "text", TypeOID: 25, TypeModifier: -1, Key: true},
	{Name: "mood", Type: "mood", TypeOID: 16390, TypeModifier: -1, Key: true},
}

const testRelID = 16400

// validFrames are one of each message the decoder handles, in a plausible
// order: the seed corpus of FuzzDecode.
func validFrames() [][]byte {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	row := []tv{txt("1"), txt("Reboque"), txt("2"), txt("long text"), txt("happy")}
	return [][]byte{
		encType(16390, "public", "mood"),
		encRelation(testRelID, "public", "service", 'f', testRelCols),
		encBegin(0x1000, at, 42),
		encOrigin(0x900, "node1"),
		encInsert(testRelID, row...),
		encUpdate(testRelID, 0, nil, row),
		encUpdate(testRelID, 'K', []tv{txt("1"), null, null, null, null}, row),
		encUpdate(testRelID, 'O', row, []tv{txt("1"), txt("Reboque"), txt("3"), unchanged, txt("sad")}),
		encDelete(testRelID, 'K', txt("1"), null, null, null, null),
		encDelete(testRelID, 'O', row...),
		encTruncate(0, testRelID, testRelID),
		encCommit(0x1000, 0x1030, at),
	}
}

// seededDecoder knows the test relation and is inside a transaction, so
// that any row message can be decoded on its own.
func seededDecoder() *decoder {
	d := newDecoder(nil)
	d.typeNames[16390] = "mood"
	d.relations[testRelID] = NewRelation(testRelID, "public", "service", 'f', testRelCols)
	d.inTx = true
	d.commitTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return d
}
