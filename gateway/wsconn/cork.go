package wsconn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// corkLimit bounds what a corked socket holds before it writes anyway.
const corkLimit = 256 << 10

// corkedConn lets the writer send a batch of frames in few write calls:
// coder/websocket flushes after every message, which costs one syscall per
// frame; between cork and uncork those flushes only fill buf. Outside a
// batch (pongs, close frames) writes go straight through.
type corkedConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
	// bufs lends batch buffers larger than an idle socket may keep, so a
	// busy socket does not grow a new one for every batch.
	bufs *sync.Pool
	// timeout bounds a write that the peer does not read (WriteTimeout);
	// deadline is the write deadline last set (see armLocked).
	timeout  time.Duration
	deadline time.Time
	// br is the buffered reader coder/websocket reads through, and raw
	// the socket under it (nil when it has none), for waitReadable.
	br  *bufio.Reader
	raw syscall.RawConn
	// fd is raw's descriptor (-1 without one), which writeNow writes to
	// directly (see writeFD); fdMu and fdClosed keep those writes off a
	// closed descriptor.
	fd       int
	fdMu     sync.RWMutex
	fdClosed bool
	// bufp is the pool's pointer for buf, put back with it.
	bufp *[]byte
	// readBefore is set by the first waitReadable (the reader's only).
	readBefore bool
	// handshake is held while coder/websocket runs the close handshake,
	// which reads br on the writer's goroutine (it waits for the
	// client's close frame): the reader's looks at br wait for it.
	handshake sync.Mutex
}

// buffered reports whether br holds bytes not read yet.
func (c *corkedConn) buffered() bool {
	c.handshake.Lock()
	defer c.handshake.Unlock()
	return c.br.Buffered() > 0
}

// waitReadable waits until the client has sent something (see Conn.Wait).
// It returns the read deadline's error, or nil when bytes are already
// buffered or the socket is readable.
func (c *corkedConn) waitReadable() error {
	if !c.readBefore {
		// coder/websocket moves what came with the upgrade out of br's
		// buffer into a reader behind it: the first read takes it from
		// there, and br.Buffered() tells the truth after.
		c.readBefore = true
		return nil
	}
	if c.raw == nil || c.buffered() {
		return nil
	}
	return c.raw.Read(peekable)
}

// armLocked gives the next write at least half of timeout before it fails:
// the deadline moves only when less than that is left, so a busy socket
// updates it a few times a minute instead of once per batch (each update
// is a timer change in the runtime's poller, 8% of a profile at 100,000
// frames/s). A write the peer does not take fails after timeout/2 to timeout.
func (c *corkedConn) armLocked() {
	if c.timeout <= 0 {
		return
	}
	now := time.Now()
	if c.deadline.Sub(now) < c.timeout/2 {
		c.deadline = now.Add(c.timeout)
		c.Conn.SetWriteDeadline(c.deadline)
	}
}

func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		c.armLocked()
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= corkLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// cork starts a batch: its frames fill the buffer until uncork.
func (c *corkedConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.getBuf()
	c.mu.Unlock()
}

// uncork writes what the batch left.
func (c *corkedConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	var err error
	if len(c.buf) > 0 {
		err = c.flushLocked()
	}
	// Between batches the socket holds no buffer: with thousands of idle
	// sockets, even a small one each adds up, and a busy socket gets one
	// back from the pool at its next batch.
	c.putBuf()
	return err
}

// writeFrame appends one unfragmented, unmasked WebSocket data frame (RFC
// 6455 section 5.2; servers never mask) to the batch, under the same lock
// as every other write, so that the control frames coder/websocket writes
// itself (pongs, the close frame: each one whole Write) never land inside
// it. Framing here rather than with websocket.Conn.Write saves, per frame,
// a context, a timer handoff and a flush into this buffer.
func (c *corkedConn) writeFrame(f Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appendFrameLocked(f)
	if !c.corked || len(c.buf) >= corkLimit {
		return c.flushLocked()
	}
	return nil
}

func (c *corkedConn) appendFrameLocked(f Frame) {
	opcode := byte(0x1)
	if f.Binary {
		opcode = 0x2
	}
	b := append(c.buf, 0x80|opcode)
	switch n := f.Size(); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, f.Pre...)
	b = append(b, f.Data...)
	c.buf = append(b, f.Post...)
}

// writeNow frames batch and writes what the kernel takes at once, without
// waiting for the client: the gateway's router calls it for thousands of
// sockets in a row, where one socket's full buffer must not hold up the
// next. What was not taken stays in buf with the socket corked, so that it
// goes out first, before any later frame (ours or coder/websocket's), with
// the next uncork; done is false then, and the caller must see to that
// uncork. Without a descriptor (a pipe, TLS) nothing can be tried
// without waiting: all of it is held.
func (c *corkedConn) writeNow(batch []Frame, abort *atomic.Bool) (done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.getBuf()
	for _, f := range batch {
		if abort.Load() {
			break
		}
		c.appendFrameLocked(f)
	}
	if len(c.buf) == 0 {
		c.putBufUnlessCorked()
		return true, nil
	}
	n := 0
	if c.fd >= 0 && !c.corked {
		if n, err = c.writeFD(c.buf); err != nil {
			c.buf = c.buf[:0]
			c.putBuf()
			return false, err
		}
	}
	if n == len(c.buf) {
		c.buf = c.buf[:0]
		c.putBuf()
		return true, nil
	}
	c.buf = c.buf[:copy(c.buf, c.buf[n:])]
	c.corked = true
	return false, nil
}

// writeFD writes b to the socket's descriptor once, without waiting for
// room, and returns how much the kernel took. It bypasses the runtime's
// poller (RawConn.Write's locks and deadline checks were a twelfth of the
// gateway's CPU at 100,000 frames/s), so it must keep its own guard: a
// closed descriptor's number may be given to another client's socket at
// once, so Close waits for a write in progress, and none starts after it.
func (c *corkedConn) writeFD(b []byte) (int, error) {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	if c.fdClosed {
		return 0, net.ErrClosed
	}
	return writeNonBlocking(c.fd, b)
}

// Close closes the connection once no writeFD is under way. Every close
// of the socket comes here: coder/websocket closes the connection it was
// handed, which is this one.
func (c *corkedConn) Close() error {
	c.fdMu.Lock()
	c.fdClosed = true
	c.fdMu.Unlock()
	return c.Conn.Close()
}

// putBufUnlessCorked returns the buffer unless a batch (or held bytes)
// still fills it.
func (c *corkedConn) putBufUnlessCorked() {
	if !c.corked {
		c.putBuf()
	}
}

func (c *corkedConn) flushLocked() error {
	c.armLocked()
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if !c.corked {
		c.putBuf()
	}
	return err
}

// getBuf borrows a batch buffer, when the socket holds none.
func (c *corkedConn) getBuf() {
	if c.buf == nil && c.bufs != nil {
		if b, ok := c.bufs.Get().(*[]byte); ok {
			c.buf, c.bufp = (*b)[:0], b
		}
	}
}

// putBuf gives the buffer back: between batches an idle socket holds none.
func (c *corkedConn) putBuf() {
	if c.bufs != nil && cap(c.buf) <= corkLimit*2 {
		// The pool's own pointer goes back with it: a new one would be
		// an allocation per batch.
		if c.bufp == nil {
			c.bufp = new([]byte)
		}
		*c.bufp = c.buf[:0]
		c.bufs.Put(c.bufp)
	}
	c.buf, c.bufp = nil, nil
}

// corkingWriter hands coder/websocket a hijacked connection wrapped in a
// corkedConn. net/http has flushed the 101 response before Hijack returns,
// so a fresh bufio.Writer on top of the wrapper loses nothing.
type corkingWriter struct {
	http.ResponseWriter
	conn    *corkedConn
	bufs    *sync.Pool
	timeout time.Duration
}

func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkedConn{Conn: nc, bufs: w.bufs, timeout: w.timeout, fd: -1}
	// Both buffers are memory every idle socket holds, so they are small:
	// clients send small frames (heartbeats of some 60 bytes, joins of a
	// few hundred; a larger read bypasses the buffer), and
	// the write buffer carries only coder/websocket's own frames (pongs,
	// the close frame: at most 125 bytes and a header), since data frames
	// are framed into the cork's buffer. Bytes net/http had already
	// read past the request stay first in line.
	// coder/websocket keeps only what our reader has buffered, so those
	// bytes are pulled into it now.
	pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
	var src io.Reader = nc
	if len(pending) > 0 {
		src = io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc)
	}
	r := bufio.NewReaderSize(src, max(256, len(pending)))
	if len(pending) > 0 {
		if _, err := r.Peek(len(pending)); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	w.conn.br = r
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.conn.raw = raw
			raw.Control(func(fd uintptr) { w.conn.fd = int(fd) })
		}
	}
	return w.conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.conn, 160)), nil
}
