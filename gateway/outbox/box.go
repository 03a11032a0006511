package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgrealtime/realtime/gateway/wsconn"
)

// Config is what every box of a server shares.
type Config struct {
	// Limit is how many bytes may wait for a socket before routing waits
	// for it or lets it run over (OUTBOUND_QUEUE_BYTES).
	Limit int
	// Grace is how long a socket may stay behind before it is closed as
	// a slow consumer (SLOW_CONSUMER_GRACE_MS).
	Grace time.Duration
	// Waited is told how long the router waited for a socket's room; nil:
	// not counted.
	Waited func(time.Duration)
	// Panicked is told of a panic in a writer, after it is logged; nil:
	// not counted.
	Panicked func()
}

// Box is one socket's outbound queue, bounded in bytes, and whoever writes
// it. Anyone may queue; nobody ever blocks on a slow client: one that stays
// behind is closed as a slow consumer. The zero value is not usable: Init
// it.
type Box struct {
	cfg *Config
	log *slog.Logger
	out Transport

	mu      sync.Mutex
	queue   []wsconn.Frame
	spare   []wsconn.Frame
	queued  int
	closing *disconnect
	// writing is true while someone holds the write claim: a writer
	// goroutine (drain), or the router's writers after TryPush claimed the
	// box for them (writeRouted). Never two at once, so frames keep their
	// order. An idle socket has no writer, which halves its memory.
	// parked is true while a writer goroutine waits for frames
	// (writerLinger), and wake wakes it. held is true while the
	// transport holds bytes that WriteNow could not send: the next
	// WriteBatch sends them first.
	writing, parked, held bool
	// abort stops the writer between two frames of a batch: set when the
	// socket is closed with its queue dropped.
	abort atomic.Bool
	wake  chan struct{}
	// writerEnded is when (UnixNano) the last writer ended, for the next
	// one's linger.
	writerEnded int64
	writers     sync.WaitGroup
	// ctx is the socket's life: it ends the writers (and the gateway's
	// reader) when the socket is done.
	ctx    context.Context
	cancel context.CancelFunc
	// space is signalled when the writer takes the queue, for a router
	// waiting on a full one.
	space chan struct{}
	// fullSince is when a router first found the queue full; it ends when
	// the writer takes the queue.
	fullSince time.Time
	// lastRoute is the Router.route that last handed this box a frame.
	// Owned by the router goroutine.
	lastRoute uint64
}

type disconnect struct {
	reason Reason
	text   string
}

// Init readies b to write to out, which must not change afterwards; log
// is the socket's logger.
func (b *Box) Init(cfg *Config, log *slog.Logger, out Transport) {
	b.cfg, b.log, b.out = cfg, log, out
	b.space = make(chan struct{}, 1)
	b.ctx, b.cancel = context.WithCancel(context.Background())
}

// Context ends when the socket is done (Stop, Finish).
func (b *Box) Context() context.Context { return b.ctx }

// Stop ends the writers at once, dropping what they have not written.
func (b *Box) Stop() { b.cancel() }

// Finish ends the box once its socket's reader returned r: it records r
// unless a close came first, stops the writers and waits for them and for
// the router's claims. It returns the reason the socket closed for.
func (b *Box) Finish(r Reason) Reason {
	b.mu.Lock()
	if b.closing == nil {
		b.closing = &disconnect{reason: r}
	}
	final := b.closing.reason
	b.mu.Unlock()
	b.cancel()
	b.writers.Wait()
	return final
}

// Behind reports whether a router found the queue full and its writer
// has not taken it since.
func (b *Box) Behind() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.fullSince.IsZero()
}

// Enqueue queues one frame for the writer. It returns false when the frame
// was not queued because the socket is closing. frame must not be modified
// afterwards: it may be shared with other sockets. A socket whose queue is
// over the limit is closed: this path (replies, broadcasts, presence) has
// no router to wait.
func (b *Box) Enqueue(frame []byte, binary bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing != nil {
		return false
	}
	if len(b.queue) > 0 && b.queued+len(frame) > b.cfg.Limit {
		b.closeLocked(SlowConsumer, fmt.Sprintf("slow consumer: more than %d bytes waiting to be sent", b.cfg.Limit))
		return false
	}
	b.queue = append(b.queue, wsconn.Frame{Data: frame, Binary: binary})
	b.queued += len(frame)
	b.startWriterLocked()
	return true
}

// PushResult says what became of a change frame offered to a box.
type PushResult uint8

const (
	Pushed PushResult = iota
	Full
	Closed
)

// TryPush queues a change frame unless the queue is full. It never waits:
// the router calls it under the hub's read lock, where waiting would hold
// back every join and leave. With claimed non-nil, a box that has no
// writer is not given one: it is claimed for the router's writers and
// appended to *claimed (see writeRouted), which saves waking a goroutine
// per socket per change.
func (b *Box) TryPush(f wsconn.Frame, claimed *[]*Box) PushResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing != nil {
		return Closed
	}
	if len(b.queue) > 0 && b.queued+f.Size() > b.cfg.Limit {
		if b.fullSince.IsZero() {
			b.fullSince = time.Now()
		}
		return Full
	}
	b.queue = append(b.queue, f)
	b.queued += f.Size()
	if claimed != nil && !b.writing {
		b.writing = true
		b.writers.Add(1)
		*claimed = append(*claimed, b)
		return Pushed
	}
	b.startWriterLocked()
	return Pushed
}

// pushWait queues a change frame, waiting for the writer to make room: a
// client that keeps reading paces the router, and so the replication
// stream, instead of being dropped in the middle of a bulk write. The router
// calls it outside the hub's lock, only when most of the sockets of a
// batch are behind (see Router.Flush). The wait is bounded by Grace from
// when the queue was found full, so sockets that stopped reading all at
// once cost the router one grace, not one each.
func (b *Box) pushWait(f wsconn.Frame) bool {
	for {
		switch b.TryPush(f, nil) {
		case Pushed:
			return true
		case Closed:
			return false
		}
		b.mu.Lock()
		fullSince := b.fullSince
		b.mu.Unlock()
		wait := b.cfg.Grace
		if !fullSince.IsZero() {
			wait -= time.Since(fullSince)
		}
		if wait <= 0 {
			b.Close(SlowConsumer, b.slowReason())
			return false
		}
		b.waitForRoom(wait)
	}
}

// MinorityWait bounds, per batch and in all, how long the router waits for
// sockets that are behind while most others are not. It waits only for one
// at twice its queue limit: a client that reads makes room within it, one
// that hardly reads is closed rather than waited for longer.
const MinorityWait = 50 * time.Millisecond

// pushOver queues a change frame for a socket that is behind while most
// others are not, so that waiting for it would make everyone wait. Its
// queue may grow past Limit, up to twice that, for at most Grace from when
// it was found full (reset whenever its writer takes the queue). At twice
// the limit the router waits for room until deadline (MinorityWait after
// this batch's flush began); a socket that is still behind then, or for
// longer than the grace, is closed as a slow consumer. So a client
// reading slowly, however steadily, cannot set the others' pace.
func (b *Box) pushOver(f wsconn.Frame, deadline time.Time) bool {
	for {
		b.mu.Lock()
		if b.closing != nil {
			b.mu.Unlock()
			return false
		}
		if b.fullSince.IsZero() {
			b.fullSince = time.Now()
		}
		if time.Since(b.fullSince) >= b.cfg.Grace {
			b.closeLocked(SlowConsumer, b.slowReason())
			b.mu.Unlock()
			return false
		}
		if len(b.queue) == 0 || b.queued+f.Size() <= 2*b.cfg.Limit {
			b.queue = append(b.queue, f)
			b.queued += f.Size()
			b.startWriterLocked()
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			b.Close(SlowConsumer, b.slowReason())
			return false
		}
		b.waitForRoom(wait)
	}
}

// waitForRoom waits at most d for the writer to take the queue, and
// counts the router's wait.
func (b *Box) waitForRoom(d time.Duration) {
	began := time.Now()
	t := time.NewTimer(d)
	select {
	case <-b.space:
	case <-t.C:
	}
	t.Stop()
	if b.cfg.Waited != nil {
		b.cfg.Waited(time.Since(began))
	}
}

func (b *Box) slowReason() string {
	return fmt.Sprintf("slow consumer: more than %d bytes waiting to be sent for %v", b.cfg.Limit, b.cfg.Grace)
}

// Close closes the socket for r, with text as the close frame's reason
// when r sends one. With Shutdown what is queued is written first (the
// router has stopped and confirmed it); otherwise it is dropped, so the
// close frame follows at once what the kernel already holds.
func (b *Box) Close(r Reason, text string) {
	b.mu.Lock()
	b.closeLocked(r, text)
	b.mu.Unlock()
}

func (b *Box) closeLocked(r Reason, text string) {
	if b.closing != nil {
		return
	}
	b.closing = &disconnect{reason: r, text: text}
	if r == Shutdown {
		b.startWriterLocked()
		return
	}
	if r == SlowConsumer {
		behind := time.Duration(0)
		if !b.fullSince.IsZero() {
			behind = time.Since(b.fullSince)
		}
		b.log.Warn("closing slow consumer", "queued_bytes", b.queued, "queued_frames", len(b.queue),
			"limit_bytes", b.cfg.Limit, "full_for", behind.Round(time.Millisecond), "reason", text)
	}
	b.queue, b.queued = nil, 0
	b.abort.Store(true)
	b.startWriterLocked()
}

// startWriterLocked starts a writer unless one holds the claim. Called
// with mu held; Finish waits for the writers only after closing is set,
// after which none is started, so no start can race with that wait.
func (b *Box) startWriterLocked() {
	if b.writing {
		if b.parked {
			select {
			case b.wake <- struct{}{}:
			default:
			}
		}
		return
	}
	if b.wake == nil {
		b.wake = make(chan struct{}, 1)
	}
	b.writing = true
	b.writers.Go(b.drain)
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
func (b *Box) park(t **time.Timer) bool {
	if *t == nil {
		*t = time.NewTimer(writerLinger)
	} else {
		(*t).Reset(writerLinger)
	}
	select {
	case <-b.wake:
		return true
	case <-(*t).C:
	case <-b.ctx.Done():
	}
	return false
}

// drain writes the queue until it has stayed empty for writerLinger, then
// ends; the next frame starts a new writer. After a close request it sends
// the close frame.
func (b *Box) drain() {
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
		if p := recover(); p != nil {
			b.log.Error("panic in socket writer", "panic", p, "stack", string(debug.Stack()))
			if b.cfg.Panicked != nil {
				b.cfg.Panicked()
			}
			b.out.CloseNow()
		}
	}()
	batches := 0
	for b.ctx.Err() == nil {
		b.mu.Lock()
		if len(b.queue) == 0 && b.closing == nil && !b.held {
			// Linger only for a socket that gets frames often: one whose
			// writer already wrote more than once, or whose last writer
			// ended less than writerLinger ago. At a change a second to
			// 10,000 sockets, lingering would only add a timer per socket
			// per change (18% of a core before, 22-25% with it).
			woken := false
			if batches > 1 || time.Now().UnixNano()-b.writerEnded < int64(writerLinger) {
				b.parked = true
				b.mu.Unlock()
				woken = b.park(&linger)
				b.mu.Lock()
				b.parked = false
			}
			if !woken && len(b.queue) == 0 && b.closing == nil && !b.held {
				b.writing = false
				b.writerEnded = time.Now().UnixNano()
				if cap(b.spare) > 64 {
					b.spare = nil // an idle socket keeps no big slice
				}
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			continue
		}
		batches++
		batch, wasFull := b.takeQueueLocked()
		closing := b.closing
		b.mu.Unlock()
		b.madeRoom(wasFull)
		if err := b.out.WriteBatch(batch, &b.abort); err != nil {
			b.writeFailed(err)
			return
		}
		// The batch becomes the next queue: it must not keep the
		// written frames' shared payloads alive.
		clear(batch)
		b.mu.Lock()
		b.keepSpareLocked(batch)
		b.mu.Unlock()
		if closing != nil {
			if closing.reason.sendsClose() {
				b.out.Close(closing.reason.status(), truncate(closing.text))
			}
			b.out.CloseNow()
			return
		}
	}
}

// takeQueueLocked hands the queue to its writer, whose batch write also
// sends what the transport held. wasFull says a router found the queue
// full, and may be waiting for room.
func (b *Box) takeQueueLocked() (batch []wsconn.Frame, wasFull bool) {
	batch, wasFull = b.queue, !b.fullSince.IsZero()
	b.queue, b.spare = b.spare[:0], nil
	b.queued = 0
	b.fullSince = time.Time{}
	b.held = false
	return batch, wasFull
}

// keepSpareLocked keeps a written (and cleared) batch as the next queue.
func (b *Box) keepSpareLocked(batch []wsconn.Frame) {
	if b.spare == nil {
		b.spare = batch[:0]
	}
}

// madeRoom tells a router waiting for room (waitForRoom) that the writer
// took the queue. A router waits only after it found the queue full
// (fullSince set, under the lock, before it waits), so only such a take
// signals: the signal is buffered for a wait that has not begun yet, and
// a stale one only makes the router look again.
func (b *Box) madeRoom(wasFull bool) {
	if !wasFull {
		return
	}
	select {
	case b.space <- struct{}{}:
	default:
	}
}

// writeFailed closes a socket whose write failed.
func (b *Box) writeFailed(err error) {
	if b.ctx.Err() == nil {
		b.Close(WriteError, err.Error())
		b.log.Debug("write failed", "err", err)
	}
	b.out.CloseNow()
}

// maxRoutedWrites bounds how often writeRouted writes a queue that keeps
// refilling before it leaves the socket to a writer goroutine of its own:
// the router's writers have other sockets to serve.
const maxRoutedWrites = 3

// writeRouted writes the queue of a box that TryPush claimed for the
// router's writers, on the router's goroutine or one of its helpers,
// without waiting for the client. It gives the claim up when the queue is
// empty; a socket that did not take everything at once, or is closing, or
// keeps getting frames, gets a writer goroutine (drain) for the rest,
// which inherits the claim.
func (b *Box) writeRouted() {
	defer b.writers.Done()
	var batch []wsconn.Frame
	held := false
	for i := 0; ; i++ {
		b.mu.Lock()
		if batch != nil {
			b.keepSpareLocked(batch)
		}
		b.held = b.held || held
		// A stopped box needs no check here: these writes never wait, and
		// a writer goroutine started below ends at once.
		switch {
		case b.closing != nil || b.held || i == maxRoutedWrites && len(b.queue) > 0:
			b.writers.Go(b.drain)
			b.mu.Unlock()
			return
		case len(b.queue) == 0:
			b.writing = false
			b.mu.Unlock()
			return
		}
		var wasFull bool
		batch, wasFull = b.takeQueueLocked()
		b.mu.Unlock()
		b.madeRoom(wasFull)
		done, err := b.out.WriteNow(batch, &b.abort)
		clear(batch)
		if err != nil {
			b.writeFailed(err)
			return
		}
		held = !done
	}
}
