package wsconn

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Conn is a client's connection: coder/websocket's Conn over the hijacked
// connection, wrapped in a corkedConn. coder/websocket reads, answers
// pings and runs the close handshake; data frames are framed by
// corkedConn, one write per batch.
type Conn struct {
	ws   *websocket.Conn
	cork *corkedConn
}

// Options are what Accept needs besides the request.
type Options struct {
	// Bufs lends batch buffers (*[]byte) between batches, shared by the
	// server's sockets; nil: each batch grows its own.
	Bufs *sync.Pool
	// WriteTimeout bounds a write the client does not read; 0: none.
	WriteTimeout time.Duration
	// ReadLimit is the largest frame the client may send (coder/websocket
	// fails the read beyond it with websocket.ErrMessageTooBig); 0:
	// coder/websocket's default, 32 KiB.
	ReadLimit int64
}

// Accept upgrades the request to a WebSocket. Like Supabase's server
// (check_origin: false), browsers on any origin may connect; compression
// is off.
func Accept(w http.ResponseWriter, r *http.Request, o Options) (*Conn, error) {
	cw := &corkingWriter{ResponseWriter: w, bufs: o.Bufs, timeout: o.WriteTimeout}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, err
	}
	if o.ReadLimit > 0 {
		ws.SetReadLimit(o.ReadLimit)
	}
	return &Conn{ws: ws, cork: cw.conn}, nil
}

// WriteBatch writes the frames in order under one deadline, after what
// WriteNow left behind, stopping between two of them once abort is set:
// with the socket corked they only fill a buffer, and uncork sends them in
// one go. It keeps no reference to batch.
func (s *Conn) WriteBatch(batch []Frame, abort *atomic.Bool) error {
	s.cork.cork()
	var err error
	for _, f := range batch {
		if err != nil || abort.Load() {
			break
		}
		err = s.cork.writeFrame(f)
	}
	if uerr := s.cork.uncork(); err == nil {
		err = uerr
	}
	return err
}

// WriteNow writes the frames without waiting for the client: what the
// connection does not take at once is held, and the next WriteBatch sends
// it first. done reports that nothing was held. It keeps no reference to
// batch either.
func (s *Conn) WriteNow(batch []Frame, abort *atomic.Bool) (done bool, err error) {
	return s.cork.writeNow(batch, abort)
}

// Close sends a close frame with status and reason, then waits a little
// for the client's.
func (s *Conn) Close(status websocket.StatusCode, reason string) {
	s.cork.handshake.Lock()
	defer s.cork.handshake.Unlock()
	s.ws.Close(status, reason)
}

// CloseNow closes at once, without a close frame.
func (s *Conn) CloseNow() { s.ws.CloseNow() }

// Wait waits, within idle, until the client has sent something: on a
// stack of a few hundred bytes, so that an idle socket's goroutine holds
// the smallest stack the runtime has, where a wait inside
// coder/websocket's read kept 8 KiB. The timeout is the connection's read
// deadline, which also bounds the ReadFrame calls that follow: a context
// per read would keep a timer context, its AfterFunc and a child entry in
// ctx alive for as long as the socket idles, some 2 KiB of every idle
// socket. Interrupt ends a Wait (or a ReadFrame) by moving the deadline
// into the past; ctx says whether it did. timedOut reports the idle limit.
func (s *Conn) Wait(ctx context.Context, idle time.Duration) (timedOut bool, err error) {
	s.cork.Conn.SetReadDeadline(time.Now().Add(idle))
	if ctx.Err() != nil {
		// Interrupt ran before the deadline above replaced its own.
		return false, ctx.Err()
	}
	err = s.cork.waitReadable()
	return errors.Is(err, os.ErrDeadlineExceeded), err
}

// ReadFrame reads the next frame, within the deadline of the last Wait.
func (s *Conn) ReadFrame() (typ websocket.MessageType, data []byte, timedOut bool, err error) {
	typ, data, err = s.ws.Read(context.Background())
	return typ, data, errors.Is(err, os.ErrDeadlineExceeded), err
}

// Buffered reports whether a frame, or part of one, has arrived that
// ReadFrame would read without waiting for readability.
func (s *Conn) Buffered() bool { return s.cork.buffered() }

// Interrupt ends the reader's current or next Wait or ReadFrame.
func (s *Conn) Interrupt() { s.cork.Conn.SetReadDeadline(time.Unix(1, 0)) }
