package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// checkFrame walks the structure of a pgoutput protocol version 1 message
// without decoding it, so malformed input becomes an error before pglogrepl
// sees it. pglogrepl indexes past the end of short frames (a panic), and it
// allocates column values and truncate lists with lengths read from the frame
// before checking them against the frame (a 4 GiB length is an out-of-memory
// crash that recover cannot catch). After checkFrame every length pglogrepl
// reads is backed by bytes that are really there.
func checkFrame(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty message")
	}
	r := frameReader{b: b[1:]}
	switch b[0] {
	case 'B': // final LSN, commit time, xid
		r.skip(20)
	case 'C': // flags, commit LSN, end LSN, commit time
		r.skip(25)
	case 'O': // origin LSN, name
		r.skip(8)
		r.cstring()
	case 'Y': // type OID, namespace, name
		r.skip(4)
		r.cstring()
		r.cstring()
	case 'R':
		r.relation()
	case 'I':
		r.skip(4)
		r.expect('N')
		r.tuple()
	case 'U':
		r.skip(4)
		switch k := r.byte1(); k {
		case 'K', 'O':
			r.tuple()
			r.expect('N')
			r.tuple()
		case 'N':
			r.tuple()
		default:
			r.fail(fmt.Errorf("update: tuple kind %q, want K, O or N", k))
		}
	case 'D':
		r.skip(4)
		if k := r.byte1(); k != 'K' && k != 'O' && r.err == nil {
			r.fail(fmt.Errorf("delete: tuple kind %q, want K or O", k))
		}
		r.tuple()
	case 'T': // relation count, options, relation OIDs
		n := r.uint32()
		r.skip(1)
		if r.err == nil && uint64(n)*4 > uint64(len(r.b)) {
			r.fail(fmt.Errorf("truncate: %d relations in %d bytes", n, len(r.b)))
		}
		r.skip(int(n) * 4)
	case 'M': // flags, LSN, prefix, content
		r.skip(9)
		r.cstring()
		r.skip(int(r.uint32()))
	case 'S', 'E', 'c', 'A', 'b', 'P', 'K', 'r', 'p':
		// Streamed and two-phase transactions need protocol versions 2-4,
		// which the stream does not ask for.
		return fmt.Errorf("message %q needs a pgoutput protocol version above 1", b[0])
	default:
		return fmt.Errorf("unknown message type %q", b[0])
	}
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("message %q: %d trailing bytes", b[0], len(r.b))
	}
	return r.err
}

// frameReader consumes a byte slice and remembers the first error, so the
// walk above reads as the message layout.
type frameReader struct {
	b   []byte
	err error
}

func (r *frameReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *frameReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(fmt.Errorf("need %d bytes, have %d", n, len(r.b)))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *frameReader) skip(n int) { r.take(n) }

func (r *frameReader) byte1() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *frameReader) expect(c byte) {
	if got := r.byte1(); got != c && r.err == nil {
		r.fail(fmt.Errorf("got %q, want %q", got, c))
	}
}

func (r *frameReader) uint16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *frameReader) uint32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *frameReader) cstring() {
	if r.err != nil {
		return
	}
	i := bytes.IndexByte(r.b, 0)
	if i < 0 {
		r.fail(errors.New("unterminated string"))
		return
	}
	r.b = r.b[i+1:]
}

// relation walks a Relation message: OID, namespace, name, replica identity,
// then per column flags, name, type OID and type modifier.
func (r *frameReader) relation() {
	r.skip(4)
	r.cstring()
	r.cstring()
	r.skip(1)
	n := r.uint16()
	for i := 0; i < int(n) && r.err == nil; i++ {
		r.skip(1)
		r.cstring()
		r.skip(8)
	}
}

// tuple walks TupleData: a column count, then per column a kind byte and,
// for text and binary values, a length and that many bytes.
func (r *frameReader) tuple() {
	n := r.uint16()
	for i := 0; i < int(n) && r.err == nil; i++ {
		switch k := r.byte1(); k {
		case 'n', 'u':
		case 't', 'b':
			l := r.uint32()
			if r.err == nil && uint64(l) > uint64(len(r.b)) {
				r.fail(fmt.Errorf("column %d: value of %d bytes, %d left", i, l, len(r.b)))
			}
			r.skip(int(l))
		default:
			if r.err == nil {
				r.fail(fmt.Errorf("column %d: value kind %q", i, k))
			}
		}
	}
}
