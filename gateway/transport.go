package gateway

import (
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/wsconn"
)

// transport is what a socket's writers write to: batches of data frames,
// then the close. Only the holder of the socket's write claim
// (conn.writing) calls it. In production it is the socket's
// *wsconn.Conn; behind this seam the hub's benchmarks and routing tests
// give a conn a transport without a network (sinkTransport) and still run
// the real queue and writers.
//
// The reader does not go through it: it reads the socket itself (conn.sock),
// because its idle read depends on the hijacked connection (the read
// deadline, the shallow wait for readability), it has no second
// implementation to choose from, and the tests that exercise it do so over
// a real or piped network connection.
type transport interface {
	// WriteBatch writes the frames in order, stopping between two of them
	// once abort is set. It keeps no reference to batch.
	WriteBatch(batch []wsconn.Frame, abort *atomic.Bool) error
	// WriteNow writes the frames without waiting for the client: what the
	// connection does not take at once is held, and the next WriteBatch
	// sends it first. done reports that nothing was held. The router's
	// writers call it (see conn.writeRouted); it keeps no reference to
	// batch either.
	WriteNow(batch []wsconn.Frame, abort *atomic.Bool) (done bool, err error)
	// Close sends a close frame with status and reason, then waits a
	// little for the client's.
	Close(status websocket.StatusCode, reason string)
	// CloseNow closes at once, without a close frame.
	CloseNow()
}
