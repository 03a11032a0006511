package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/expiry"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
)

// conn is one client socket. Its reader (the HTTP handler's goroutine) owns
// the channel state; one writer at a time (its writer goroutine, or the
// router's writers holding its claim) writes the queue, bounded in bytes,
// to the WebSocket. Anyone may enqueue; nobody ever blocks on a slow
// client: one that stays behind is closed as a slow consumer.
type conn struct {
	id    uint64
	srv   *Server
	codec phoenix.Codec
	log   *slog.Logger
	// token is the JWT the socket connected with (secure channels only).
	token string
	// sock is the client's connection, which the reader reads; nil in
	// conns built without one (benchmarks, tests of routing), which
	// never read.
	sock *wsconn.Conn
	// box is what the socket has yet to be sent, and its writers.
	box outbox.Box
	// codecIndex is 0 for V1, 1 for V2: the index into per-serializer
	// frame caches.
	codecIndex uint8

	// Owned by the reader.
	channels map[string]*channel
	joins    join.Rate
	// exp tracks the channels' token expiries (its own lock).
	exp *expiry.Set[*channel]
}

// newConn makes a conn on sock; with a nil sock the caller inits c.box
// with a transport of its own before queueing anything.
func newConn(srv *Server, id uint64, sock *wsconn.Conn, codec phoenix.Codec, token string) *conn {
	c := &conn{
		id: id, srv: srv, sock: sock, codec: codec, token: token,
		log:      srv.log.With("conn_id", id),
		channels: map[string]*channel{},
	}
	c.exp = expiry.New(c.expireDue)
	if codec == phoenix.V2 {
		c.codecIndex = 1
	}
	if sock != nil {
		c.box.Init(&srv.boxes, c.log, sock)
	}
	return c
}

// enqueue queues one frame for the socket's writer (see outbox.Box.Enqueue).
func (c *conn) enqueue(frame []byte, binary bool) bool { return c.box.Enqueue(frame, binary) }

// close closes the socket for r (see outbox.Box.Close).
func (c *conn) close(r outbox.Reason, text string) { c.box.Close(r, text) }

// send encodes m with the socket's serializer and queues it.
func (c *conn) send(m phoenix.Message) {
	c.box.Enqueue(c.codec.Append(nil, m), false)
}

// run serves the socket until it closes. It owns the writer goroutines and
// waits for them.
func (c *conn) run() { c.finish(c.readLoop(c.box.Context())) }

// finish tears the socket down once its reader returned r. It is apart
// from run so that run's frame, which an idle socket's stack holds under
// the reader, stays small: the runtime halves a parked stack only while
// less than a quarter of it (after an 800-byte reserve) is in use.
//
//go:noinline
func (c *conn) finish(r outbox.Reason) {
	final := c.box.Finish(r)
	c.exp.Stop()
	c.sock.CloseNow()
	c.srv.hub.unsubscribeAll(c, c.channels)
	c.srv.countDisconnect(final)
	c.log.Debug("socket closed", "reason", final.String(), "channels", len(c.channels))
}

// stop ends the socket from outside: its writers at once, its reader at
// its next read, or now if it is reading.
func (c *conn) stop() {
	c.box.Stop()
	if c.sock != nil {
		c.sock.Interrupt()
	}
}

// readLoop waits for the client on a shallow stack and reads and handles
// what it sent on a goroutine of its own (readFrames), which ends once no
// more has arrived. Decoding and handling a frame grows a stack to 8 KiB,
// and the runtime shrinks a parked stack only at a collection, which an
// idle gateway seldom runs: an idle socket whose reader had handled a
// heartbeat kept 8 KiB of stack, where the waiting reader keeps 2-4 KiB.
// The reader waits for readFrames, so one goroutine at a time owns the
// socket's channels, as before.
func (c *conn) readLoop(ctx context.Context) outbox.Reason {
	for {
		if timedOut, err := c.sock.Wait(ctx, c.srv.cfg.IdleTimeout); err != nil {
			return readFailed(ctx, timedOut, err)
		}
		var r outbox.Reason
		failed := false
		done := make(chan struct{})
		go func() {
			defer close(done)
			r, failed = c.readFrames(ctx)
		}()
		<-done
		if failed {
			return r
		}
	}
}

// readFrames reads and handles frames while the client's bytes are there
// to read, and reports why reading failed, if it did.
func (c *conn) readFrames(ctx context.Context) (outbox.Reason, bool) {
	for {
		typ, data, timedOut, err := c.sock.ReadFrame()
		if err != nil {
			return readFailed(ctx, timedOut, err), true
		}
		c.handleFrame(typ, data)
		if !c.sock.Buffered() {
			return 0, false
		}
	}
}

// readFailed says why a socket's read failed.
func readFailed(ctx context.Context, timedOut bool, err error) outbox.Reason {
	switch {
	case ctx.Err() != nil:
		return outbox.ServerClose
	case timedOut:
		return outbox.Idle
	case errors.Is(err, websocket.ErrMessageTooBig),
		// The client's own 1009: it found our frame too big.
		websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
		return outbox.FrameTooBig
	case websocket.CloseStatus(err) != -1:
		return outbox.ClientClose
	}
	return outbox.ReadError
}

// handleFrame handles one client frame. A panic here is a bug, but it costs
// only that frame: it is logged with its stack and the socket goes on.
func (c *conn) handleFrame(typ websocket.MessageType, data []byte) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.panics.Add(1)
			c.log.Error("panic while handling a frame", "panic", p, "stack", string(debug.Stack()))
			c.send(phoenix.ErrorReply(phoenix.Message{Topic: phoenix.TopicPhoenix}, "internal error"))
		}
	}()
	if typ == websocket.MessageBinary {
		c.handleBinary(data)
		return
	}
	m, err := c.codec.Decode(data)
	if err != nil {
		c.srv.badFrames.Add(1)
		var de *phoenix.DecodeError
		req := phoenix.Message{Topic: phoenix.TopicPhoenix}
		if errors.As(err, &de) {
			req = phoenix.Message{Topic: de.Topic, Ref: de.Ref, JoinRef: de.JoinRef}
			if req.Topic == "" {
				req.Topic = phoenix.TopicPhoenix
			}
		}
		c.log.Debug("malformed frame", "err", err)
		c.send(phoenix.ErrorReply(req, err.Error()))
		return
	}
	c.handle(m)
}

// handleBinary handles a vsn 2.0.0 binary frame: a user broadcast (kind 3)
// or a push (kind 0).
func (c *conn) handleBinary(data []byte) {
	if c.codec != phoenix.V2 {
		c.srv.badFrames.Add(1)
		c.send(phoenix.ErrorReply(phoenix.Message{Topic: phoenix.TopicPhoenix},
			fmt.Sprintf("binary frames are not understood by serializer vsn %s", c.codec.Vsn())))
		return
	}
	bm, err := phoenix.DecodeBinary(data)
	if err != nil {
		c.srv.badFrames.Add(1)
		req := phoenix.Message{Topic: phoenix.TopicPhoenix}
		var de *phoenix.DecodeError
		if errors.As(err, &de) && de.Topic != "" {
			req = phoenix.Message{Topic: de.Topic, Ref: de.Ref, JoinRef: de.JoinRef}
		}
		c.send(phoenix.ErrorReply(req, err.Error()))
		return
	}
	m := phoenix.Message{JoinRef: bm.JoinRef, Ref: bm.Ref, Topic: bm.Topic, Event: bm.Event, Payload: bm.Payload}
	if bm.Kind == phoenix.KindPush {
		c.handle(m)
		return
	}
	ch := c.channels[bm.Topic]
	if ch == nil || ch.room == nil {
		c.send(phoenix.ErrorReply(m, "unmatched topic"))
		return
	}
	c.userBroadcast(m, ch, bm)
}
