package outbox

import (
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/wsconn"
)

// Transport is what a Box's writers write to: batches of data frames,
// then the close. Only the holder of the box's write claim calls it. In
// production it is the socket's *wsconn.Conn; tests and benchmarks give a
// box a transport without a network and still run the real queue and
// writers.
type Transport interface {
	// WriteBatch writes the frames in order, stopping between two of them
	// once abort is set. It keeps no reference to batch.
	WriteBatch(batch []wsconn.Frame, abort *atomic.Bool) error
	// WriteNow writes the frames without waiting for the client: what the
	// connection does not take at once is held, and the next WriteBatch
	// sends it first. done reports that nothing was held. The router's
	// writers call it (see Box.writeRouted); it keeps no reference to
	// batch either.
	WriteNow(batch []wsconn.Frame, abort *atomic.Bool) (done bool, err error)
	// Close sends a close frame with status and reason, then waits a
	// little for the client's.
	Close(status websocket.StatusCode, reason string)
	// CloseNow closes at once, without a close frame.
	CloseNow()
}
