package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/expiry"
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
	// out is where the writer writes: sock, or a transport of the
	// test's. Set before the first frame is queued, never changed.
	out transport

	mu      sync.Mutex
	queue   []wsconn.Frame
	spare   []wsconn.Frame
	queued  int
	closing *disconnect
	// writing is true while someone writes the queue: a writer goroutine,
	// or the router's writers after tryPush claimed the socket for them
	// (writeRouted). An idle socket has no writer: only its reader, which
	// halves its memory. parked is true while a writer goroutine waits for
	// frames (writerLinger), and wake wakes it. held is true while the
	// connection holds bytes that writeNow could not send: the next
	// writeBatch sends them first.
	writing, parked, held bool
	// codecIndex is 0 for V1, 1 for V2: the index into per-serializer
	// frame caches (a byte, beside the flags, to keep conn in its size
	// class).
	codecIndex uint8
	// abort stops the writer between two frames of a batch: set when the
	// socket is closed with its queue dropped. (Next to the flags above,
	// it fills their padding: conn stays in the 320-byte size class.)
	abort atomic.Bool
	wake  chan struct{}
	// writerEnded is when (UnixNano) the last writer ended, for the next
	// one's linger.
	writerEnded int64
	writers     sync.WaitGroup
	// ctx ends the writers when the socket is done.
	ctx    context.Context
	cancel context.CancelFunc
	// space is signalled when the writer takes the queue, for a router
	// waiting on a full one.
	space chan struct{}
	// fullSince is when a router first found the queue full; it ends when
	// the writer takes the queue.
	fullSince time.Time
	// lastRoute is the stalledQueues.route that last handed this socket a
	// frame. Owned by the router goroutine.
	lastRoute uint64

	// Owned by the reader.
	channels map[string]*channel
	joins    joinRate
	// exp tracks the channels' token expiries (its own lock).
	exp *expiry.Set[*channel]
}

// newConn makes a conn on sock; with a nil sock the caller sets out
// before queueing anything.
func newConn(srv *Server, id uint64, sock *wsconn.Conn, codec phoenix.Codec, token string) *conn {
	c := &conn{
		id: id, srv: srv, sock: sock, codec: codec, token: token,
		log:      srv.log.With("conn_id", id),
		space:    make(chan struct{}, 1),
		channels: map[string]*channel{},
	}
	c.exp = expiry.New(c.expireDue)
	if codec == phoenix.V2 {
		c.codecIndex = 1
	}
	if sock != nil {
		c.out = sock
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// enqueue queues one frame for the writer. It returns false when the frame
// was not queued because the socket is closing. frame must not be modified
// afterwards: it is shared with other sockets.
func (c *conn) enqueue(frame []byte, binary bool) bool {
	c.mu.Lock()
	if c.closing != nil {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) > 0 && c.queued+len(frame) > c.srv.cfg.OutboundQueueBytes {
		c.closeLocked(reasonSlowConsumer, fmt.Sprintf("slow consumer: more than %d bytes waiting to be sent", c.srv.cfg.OutboundQueueBytes))
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, wsconn.Frame{Data: frame, Binary: binary})
	c.queued += len(frame)
	c.startWriterLocked()
	c.mu.Unlock()
	return true
}

// pushResult says what became of a change frame offered to a socket.
type pushResult uint8

const (
	pushed pushResult = iota
	pushFull
	pushClosed
)

// tryPush queues a change frame unless the queue is full. It never waits:
// the router calls it under the hub's read lock, where waiting would hold
// back every join and leave. With claimed non-nil, a socket that has no
// writer is not given one: it is claimed for the router's writers and
// appended to *claimed (see writeRouted), which saves waking a goroutine
// per socket per change.
func (c *conn) tryPush(f wsconn.Frame, claimed *[]*conn) pushResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing != nil {
		return pushClosed
	}
	if len(c.queue) > 0 && c.queued+f.Size() > c.srv.cfg.OutboundQueueBytes {
		if c.fullSince.IsZero() {
			c.fullSince = time.Now()
		}
		return pushFull
	}
	c.queue = append(c.queue, f)
	c.queued += f.Size()
	if claimed != nil && !c.writing {
		c.writing = true
		c.writers.Add(1)
		*claimed = append(*claimed, c)
		return pushed
	}
	c.startWriterLocked()
	return pushed
}

// pushWait queues a change frame, waiting for the writer to make room: a
// client that keeps reading paces the router, and so the replication
// stream, instead of being dropped in the middle of a bulk write. The router
// calls it outside the hub's lock, only when most of the sockets of a
// batch are behind (see stalledQueues.flush). The wait is bounded by
// SlowConsumerGrace from when the queue was found full, so sockets that
// stopped reading all at once cost the router one grace, not one each.
func (c *conn) pushWait(f wsconn.Frame) bool {
	for {
		switch c.tryPush(f, nil) {
		case pushed:
			return true
		case pushClosed:
			return false
		}
		c.mu.Lock()
		fullSince := c.fullSince
		c.mu.Unlock()
		wait := c.srv.cfg.SlowConsumerGrace
		if !fullSince.IsZero() {
			wait -= time.Since(fullSince)
		}
		if wait <= 0 {
			c.close(reasonSlowConsumer, c.slowReason())
			return false
		}
		c.waitForRoom(wait)
	}
}

// minorityWait bounds, per batch and in all, how long the router waits for
// sockets that are behind while most others are not. It waits only for one
// at twice its queue limit: a client that reads makes room within it, one
// that hardly reads is closed rather than waited for longer.
const minorityWait = 50 * time.Millisecond

// pushOver queues a change frame for a socket that is behind while most
// others are not, so that waiting for it would make everyone wait. Its
// queue may grow past OutboundQueueBytes, up to twice that, for at most
// SlowConsumerGrace from when it was found full (reset whenever its
// writer takes the queue). At twice the limit the router waits for room
// until deadline (minorityWait after this batch's flush began); a
// socket that is still behind then, or for longer than the grace, is
// closed as a slow consumer. So a client reading slowly, however
// steadily, cannot set the others' pace.
func (c *conn) pushOver(f wsconn.Frame, deadline time.Time) bool {
	limit := c.srv.cfg.OutboundQueueBytes
	for {
		c.mu.Lock()
		if c.closing != nil {
			c.mu.Unlock()
			return false
		}
		if c.fullSince.IsZero() {
			c.fullSince = time.Now()
		}
		if time.Since(c.fullSince) >= c.srv.cfg.SlowConsumerGrace {
			c.closeLocked(reasonSlowConsumer, c.slowReason())
			c.mu.Unlock()
			return false
		}
		if len(c.queue) == 0 || c.queued+f.Size() <= 2*limit {
			c.queue = append(c.queue, f)
			c.queued += f.Size()
			c.startWriterLocked()
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			c.close(reasonSlowConsumer, c.slowReason())
			return false
		}
		c.waitForRoom(wait)
	}
}

// waitForRoom waits at most d for the writer to take the queue, and
// counts the router's wait.
func (c *conn) waitForRoom(d time.Duration) {
	began := time.Now()
	t := time.NewTimer(d)
	select {
	case <-c.space:
	case <-t.C:
	}
	t.Stop()
	c.srv.routerWait.Add(int64(time.Since(began)))
}

func (c *conn) slowReason() string {
	return fmt.Sprintf("slow consumer: more than %d bytes waiting to be sent for %v",
		c.srv.cfg.OutboundQueueBytes, c.srv.cfg.SlowConsumerGrace)
}

// send encodes m with the socket's serializer and queues it.
func (c *conn) send(m phoenix.Message) {
	c.enqueue(c.codec.Append(nil, m), false)
}

// close asks the writer to flush nothing more and close the socket with a reason.
func (c *conn) close(r reason, text string) {
	c.mu.Lock()
	c.closeLocked(r, text)
	c.mu.Unlock()
}

func (c *conn) closeLocked(r reason, text string) {
	if c.closing != nil {
		return
	}
	c.closing = &disconnect{reason: r, text: text}
	if r == reasonShutdown {
		// The router has stopped and confirmed what it queued here: the
		// writer sends all of it, then the close frame.
		c.startWriterLocked()
		return
	}
	if r == reasonSlowConsumer {
		behind := time.Duration(0)
		if !c.fullSince.IsZero() {
			behind = time.Since(c.fullSince)
		}
		c.log.Warn("closing slow consumer", "queued_bytes", c.queued, "queued_frames", len(c.queue),
			"limit_bytes", c.srv.cfg.OutboundQueueBytes, "full_for", behind.Round(time.Millisecond), "reason", text)
	}
	// What is still queued will not be sent: drop it now so memory is
	// freed, and stop a batch being written, so that the close frame
	// follows at once what the kernel already holds.
	c.queue, c.queued = nil, 0
	c.abort.Store(true)
	c.startWriterLocked()
}

// startWriterLocked starts a writer unless one runs. Called with mu held;
// run() waits for the writers only after closing is set, after which none
// is started, so no start can race with that wait.
func (c *conn) startWriterLocked() {
	if c.writing {
		if c.parked {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		return
	}
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
	}
	c.writing = true
	c.writers.Go(c.drain)
}

// writerLinger is how long a writer whose queue ran dry waits for more
// before it ends. A socket that receives a steady stream keeps one writer
// instead of starting one per batch: each start is a fresh 2 KiB stack
// that the write path grows by copying (a tenth of the gateway's CPU at
// 100 frames/s to each of 1,000 sockets). A socket that goes quiet holds
// no writer once this has passed.
const writerLinger = 100 * time.Millisecond

// park waits for wake, for writerLinger or for the socket's end, and
// reports whether it was woken. t is the writer's timer, made on first use.
func (c *conn) park(t **time.Timer) bool {
	if *t == nil {
		*t = time.NewTimer(writerLinger)
	} else {
		(*t).Reset(writerLinger)
	}
	select {
	case <-c.wake:
		return true
	case <-(*t).C:
	case <-c.ctx.Done():
	}
	return false
}

// run serves the socket until it closes. It owns the writer goroutines and
// waits for them.
func (c *conn) run() { c.finish(c.readLoop(c.ctx)) }

// finish tears the socket down once its reader returned r. It is apart
// from run so that run's frame, which an idle socket's stack holds under
// the reader, stays small: the runtime halves a parked stack only while
// less than a quarter of it (after an 800-byte reserve) is in use.
//
//go:noinline
func (c *conn) finish(r reason) {
	c.mu.Lock()
	if c.closing == nil {
		c.closing = &disconnect{reason: r}
	}
	final := c.closing.reason
	c.mu.Unlock()
	c.cancel()
	c.writers.Wait()
	c.exp.Stop()
	c.sock.CloseNow()
	c.srv.hub.unsubscribeAll(c, c.channels)
	c.srv.countDisconnect(final)
	c.log.Debug("socket closed", "reason", final.String(), "channels", len(c.channels))
}

// stop ends the socket from outside: its writers at once, its reader at
// its next read, or now if it is reading.
func (c *conn) stop() {
	c.cancel()
	if c.sock != nil {
		c.sock.Interrupt()
	}
}

func (c *conn) readLoop(ctx context.Context) reason {
	for {
		typ, data, timedOut, err := c.sock.Read(ctx, c.srv.cfg.IdleTimeout)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return reasonServerClose
			case timedOut:
				return reasonIdle
			case errors.Is(err, websocket.ErrMessageTooBig),
				// The client's own 1009: it found our frame too big.
				websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
				return reasonFrameTooBig
			case websocket.CloseStatus(err) != -1:
				return reasonClientClose
			}
			return reasonReadError
		}
		c.handleFrame(typ, data)
	}
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

// drain writes the queue until it has stayed empty for writerLinger, then
// ends; the next frame starts a new writer. After a close request it sends
// the close frame.
func (c *conn) drain() {
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
		if p := recover(); p != nil {
			c.srv.panics.Add(1)
			c.log.Error("panic in socket writer", "panic", p, "stack", string(debug.Stack()))
			c.out.CloseNow()
		}
	}()
	batches := 0
	for c.ctx.Err() == nil {
		c.mu.Lock()
		if len(c.queue) == 0 && c.closing == nil && !c.held {
			// Linger only for a socket that gets frames often: one whose
			// writer already wrote more than once, or whose last writer
			// ended less than writerLinger ago. At a change a second to
			// 10,000 sockets, lingering would only add a timer per socket
			// per change (18% of a core before, 22-25% with it).
			woken := false
			if batches > 1 || time.Now().UnixNano()-c.writerEnded < int64(writerLinger) {
				c.parked = true
				c.mu.Unlock()
				woken = c.park(&linger)
				c.mu.Lock()
				c.parked = false
			}
			if !woken && len(c.queue) == 0 && c.closing == nil && !c.held {
				c.writing = false
				c.writerEnded = time.Now().UnixNano()
				if cap(c.spare) > 64 {
					c.spare = nil // an idle socket keeps no big slice
				}
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			continue
		}
		batches++
		batch := c.takeQueueLocked()
		closing := c.closing
		c.mu.Unlock()
		c.madeRoom()
		if err := c.out.WriteBatch(batch, &c.abort); err != nil {
			c.writeFailed(err)
			return
		}
		// The batch becomes the next queue: it must not keep the
		// written frames' shared payloads alive.
		clear(batch)
		c.mu.Lock()
		c.keepSpareLocked(batch)
		c.mu.Unlock()
		if closing != nil {
			if closing.reason.sendsClose() {
				c.out.Close(closing.reason.status(), truncateReason(closing.text))
			}
			c.out.CloseNow()
			return
		}
	}
}

// takeQueueLocked hands the queue to its writer, whose batch write also
// sends what the connection held.
func (c *conn) takeQueueLocked() []wsconn.Frame {
	batch := c.queue
	c.queue, c.spare = c.spare[:0], nil
	c.queued = 0
	c.fullSince = time.Time{}
	c.held = false
	return batch
}

// keepSpareLocked keeps a written (and cleared) batch as the next queue.
func (c *conn) keepSpareLocked(batch []wsconn.Frame) {
	if c.spare == nil {
		c.spare = batch[:0]
	}
}

// madeRoom tells a router waiting for room (waitForRoom) that the writer
// took the queue.
func (c *conn) madeRoom() {
	select {
	case c.space <- struct{}{}:
	default:
	}
}

// writeFailed closes a socket whose write failed.
func (c *conn) writeFailed(err error) {
	if c.ctx.Err() == nil {
		c.close(reasonWriteError, err.Error())
		c.log.Debug("write failed", "err", err)
	}
	c.out.CloseNow()
}

// maxRoutedWrites bounds how often writeRouted writes a queue that keeps
// refilling before it leaves the socket to a writer goroutine of its own:
// the router's writers have other sockets to serve.
const maxRoutedWrites = 3

// writeRouted writes the queue of a socket that tryPush claimed for the
// router's writers, on the router's goroutine or one of its writers
// (routedWriters), without waiting for the client. It gives the socket up
// when the queue is empty; a socket that did not take everything at once,
// or is closing, or keeps getting frames, gets a writer goroutine (drain)
// for the rest, which inherits the claim.
func (c *conn) writeRouted() {
	defer c.writers.Done()
	var batch []wsconn.Frame
	held := false
	for i := 0; ; i++ {
		c.mu.Lock()
		if batch != nil {
			c.keepSpareLocked(batch)
		}
		c.held = c.held || held
		switch {
		case c.ctx.Err() != nil:
			// The socket is done; like a writer goroutine's, the claim
			// is never given back.
			c.mu.Unlock()
			return
		case c.closing != nil || c.held || i == maxRoutedWrites && len(c.queue) > 0:
			c.writers.Go(c.drain)
			c.mu.Unlock()
			return
		case len(c.queue) == 0:
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch = c.takeQueueLocked()
		c.mu.Unlock()
		c.madeRoom()
		done, err := c.out.WriteNow(batch, &c.abort)
		clear(batch)
		if err != nil {
			c.writeFailed(err)
			return
		}
		held = !done
	}
}

// truncateReason keeps a close reason within the 123 bytes a close frame allows.
func truncateReason(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
