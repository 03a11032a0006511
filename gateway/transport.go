package gateway

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// transport is what a socket's writer (conn.drain) writes to: batches of
// data frames, then the close. Only the writer calls it. Behind this seam
// the hub's benchmarks and routing tests give a conn a transport without
// a network (sinkTransport) and still run the real queue and writer.
//
// The reader does not go through it: it reads the socket itself (conn.sock),
// because its idle read depends on the hijacked connection (the read
// deadline, waitReadable's shallow wait), it has no second implementation
// to choose from, and the tests that exercise it do so over a real or
// piped network connection.
type transport interface {
	// writeBatch writes the frames in order, stopping between two of them
	// once abort is set. It keeps no reference to batch.
	writeBatch(batch []outFrame, abort *atomic.Bool) error
	// writeNow writes the frames without waiting for the client: what the
	// connection does not take at once is held, and the next writeBatch
	// sends it first. done reports that nothing was held. The router's
	// writers call it (see conn.writeRouted); it keeps no reference to
	// batch either.
	writeNow(batch []outFrame, abort *atomic.Bool) (done bool, err error)
	// close sends a close frame with status and reason, then waits a
	// little for the client's.
	close(status websocket.StatusCode, reason string)
	// closeNow closes at once, without a close frame.
	closeNow()
}

// socket is a client's connection: coder/websocket's Conn over the
// hijacked connection, wrapped in a corkedConn. coder/websocket reads,
// answers pings and runs the close handshake; data frames are framed by
// corkedConn, one write per batch. It is the transport of every socket
// served.
type socket struct {
	ws   *websocket.Conn
	cork *corkedConn
}

// writeBatch writes frames under one deadline: with the socket corked they
// only fill a buffer, and uncork sends them in one go.
func (s *socket) writeBatch(batch []outFrame, abort *atomic.Bool) error {
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

func (s *socket) writeNow(batch []outFrame, abort *atomic.Bool) (bool, error) {
	return s.cork.writeNow(batch, abort)
}

func (s *socket) close(status websocket.StatusCode, reason string) { s.ws.Close(status, reason) }

func (s *socket) closeNow() { s.ws.CloseNow() }

// read reads the next frame within idle. The timeout is the connection's
// read deadline: a context per read would keep a timer context, its
// AfterFunc and a child entry in ctx alive for as long as the socket
// idles, some 2 KiB of every idle socket. interrupt ends it by moving the
// deadline into the past; ctx says whether it did.
func (s *socket) read(ctx context.Context, idle time.Duration) (typ websocket.MessageType, data []byte, timedOut bool, err error) {
	s.cork.Conn.SetReadDeadline(time.Now().Add(idle))
	if ctx.Err() != nil {
		// interrupt ran before the deadline above replaced its own.
		return 0, nil, false, ctx.Err()
	}
	if err = s.cork.waitReadable(); err == nil {
		typ, data, err = s.ws.Read(context.Background())
	}
	return typ, data, errors.Is(err, os.ErrDeadlineExceeded), err
}

// interrupt ends the reader's current or next read.
func (s *socket) interrupt() { s.cork.Conn.SetReadDeadline(time.Unix(1, 0)) }
