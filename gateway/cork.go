package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
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
}

func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
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

func (c *corkedConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what the batch left, within timeout.
func (c *corkedConn) uncork(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	c.Conn.SetWriteDeadline(time.Now().Add(timeout))
	err := c.flushLocked()
	c.Conn.SetWriteDeadline(time.Time{})
	return err
}

// keptCorkBytes is the most buffer an idle socket keeps between batches:
// with thousands of sockets, what one burst grew must not stay.
const keptCorkBytes = 8 << 10

func (c *corkedConn) flushLocked() error {
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > keptCorkBytes {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// corkingWriter hands coder/websocket a hijacked connection wrapped in a
// corkedConn. net/http has flushed the 101 response before Hijack returns,
// so a fresh bufio.Writer on top of the wrapper loses nothing.
type corkingWriter struct {
	http.ResponseWriter
	conn *corkedConn
}

func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkedConn{Conn: nc}
	// Both buffers are memory every idle socket holds, so they are small:
	// clients send small frames (a larger read bypasses the buffer), and
	// the write buffer only feeds the cork's. Bytes net/http had already
	// read past the request stay first in line.
	// coder/websocket keeps only what our reader has buffered, so those
	// bytes are pulled into it now.
	pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc), max(512, len(pending)))
	if len(pending) > 0 {
		if _, err := r.Peek(len(pending)); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	return w.conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.conn, 512)), nil
}
