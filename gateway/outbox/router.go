package outbox

import (
	"slices"
	"sync"
	"time"

	"github.com/pgrealtime/realtime/gateway/wsconn"
)

// Router is the routing goroutine's side of the boxes. Deliver queues a
// routing pass's frames without ever waiting (it runs under the hub's
// lock); Flush, after the lock is released, writes the boxes the pass
// filled from empty and settles the frames of boxes that were full.
//
// Writing: waking a writer goroutine per socket per change costs more than
// the write itself at thousands of sockets (the scheduler's park, select
// and wake were a fifth of the gateway's CPU). Instead Flush hands the
// claimed boxes, in equal parts, to a few long-lived helpers, one per CPU
// (Start), with one wake each, and writes a handful itself. Every such
// write is non-blocking (Box.writeRouted): a socket that cannot take its
// frames at once gets a writer goroutine of its own, so no client's pace
// reaches the router this way. The router does not write a share of a
// large pass itself: that made it a serial bottleneck once the writes
// took most of a core (at 250 changes/s to 1,000 sockets it held the
// gateway at one core and fell seconds behind).
//
// Owned by the router goroutine: every method runs on it; the helpers
// only read the slices handed to them.
type Router struct {
	// frames holds, in order, the frames of boxes whose queues were full,
	// until Flush may wait for them.
	frames map[*Box][]wsconn.Frame
	order  []*Box
	// route numbers the passes (Flush calls); sockets counts the distinct
	// boxes handed frames in this one (see Box.lastRoute).
	route   uint64
	sockets int
	// claimed are the boxes whose queues this pass filled from empty.
	claimed []*Box

	helpers int
	work    chan []*Box
	// spare returns the helpers' slices for reuse.
	spare chan []*Box
	wg    sync.WaitGroup
}

// minShared is the least number of boxes worth waking a helper for.
const minShared = 16

// Start starts n helpers (none when n < 1: the router writes alone, as
// when routing runs without Start). One per CPU: the router itself only
// routes.
func (r *Router) Start(n int) {
	if n < 1 {
		return
	}
	r.helpers = n
	r.work = make(chan []*Box, 2*n)
	r.spare = make(chan []*Box, 2*n)
	for range n {
		r.wg.Go(func() {
			for bs := range r.work {
				for _, b := range bs {
					b.writeRouted()
				}
				clear(bs)
				select {
				case r.spare <- bs[:0]:
				default:
				}
			}
		})
	}
}

// Stop waits for the helpers to finish what they were handed.
func (r *Router) Stop() {
	if r.work == nil {
		return
	}
	close(r.work)
	r.wg.Wait()
	r.work, r.spare, r.helpers = nil, nil, 0
}

// Deliver queues f for b, or keeps it for Flush when b's queue is full
// (or already has frames kept, which must stay in order). It returns
// false when b is closing.
func (r *Router) Deliver(b *Box, f wsconn.Frame) bool {
	// Passes are numbered from 1, so a new box (lastRoute 0) counts.
	if pass := r.route + 1; b.lastRoute != pass {
		b.lastRoute = pass
		r.sockets++
	}
	if kept, ok := r.frames[b]; ok {
		r.frames[b] = append(kept, f)
		return true
	}
	switch b.TryPush(f, &r.claimed) {
	case Closed:
		return false
	case Full:
		if r.frames == nil {
			r.frames = map[*Box][]wsconn.Frame{}
		}
		r.frames[b] = []wsconn.Frame{f}
		r.order = append(r.order, b)
	}
	return true
}

// Flush ends a pass: it writes the claimed boxes (first, since the full
// ones may wait for them), then settles the frames of boxes whose queues
// were full. When most of the boxes this pass delivered to are behind, as
// in a bulk write faster than clients read, it waits for each in turn:
// the backpressure goes to the WAL and every reading client gets every
// row. When only a few are behind, waiting would make everyone else wait
// for them: their frames go over the queue limit instead (Box.pushOver),
// and whoever does not catch up is closed. The router waits for a
// minority at most MinorityWait per pass.
func (r *Router) Flush() {
	r.writeClaimed()
	minority := 2*len(r.order) <= r.sockets
	var deadline time.Time
	if minority && len(r.order) > 0 {
		deadline = time.Now().Add(MinorityWait)
	}
	for _, b := range r.order {
		for _, f := range r.frames[b] {
			pushed := false
			if minority {
				pushed = b.pushOver(f, deadline)
			} else {
				pushed = b.pushWait(f)
			}
			if !pushed {
				break
			}
		}
		delete(r.frames, b)
	}
	r.order = r.order[:0]
	r.route++
	r.sockets = 0
}

// writeClaimed has every claimed box written: by the router itself when
// they are few, otherwise by the helpers, in equal parts.
func (r *Router) writeClaimed() {
	claimed := r.claimed
	if r.helpers == 0 || len(claimed) < minShared {
		for _, b := range claimed {
			b.writeRouted()
		}
	} else {
		// The sends wait when the helpers are behind: the router then
		// stops taking batches, and the backpressure reaches the WAL.
		// Helpers never wait for a client, so they are behind only on CPU.
		size := (len(claimed) + r.helpers - 1) / r.helpers
		for part := range slices.Chunk(claimed, size) {
			var bs []*Box
			select {
			case bs = <-r.spare:
			default:
			}
			r.work <- append(bs, part...)
		}
	}
	clear(r.claimed)
	r.claimed = r.claimed[:0]
}
