package gateway

import "sync"

// routedWriters writes, after each routing pass, the sockets whose queues
// that pass filled from empty (claimed by conn.tryPush). Waking a writer
// goroutine per socket per change costs more than the write itself at
// thousands of sockets (the scheduler's park, select and wake were a fifth
// of the gateway's CPU); instead the router writes its share itself and
// hands the rest to a few long-lived helpers, one per spare CPU, with one
// wake each. Every write is non-blocking (conn.writeRouted): a socket that
// cannot take its frames at once gets a writer goroutine of its own, so
// no client's pace reaches the router this way.
//
// Owned by the router: start, write and stop run on its goroutine; the
// helpers only read the slices handed to them.
type routedWriters struct {
	helpers int
	work    chan []*conn
	// spare returns the helpers' slices for reuse.
	spare chan []*conn
	wg    sync.WaitGroup
}

// minShared is the least number of sockets worth waking a helper for.
const minShared = 16

// start starts n helpers (none when n < 1: the router writes alone, as
// when Route is called without Run).
func (w *routedWriters) start(n int) {
	if n < 1 {
		return
	}
	w.helpers = n
	w.work = make(chan []*conn, 2*n)
	w.spare = make(chan []*conn, 2*n)
	for range n {
		w.wg.Go(func() {
			for cs := range w.work {
				for _, c := range cs {
					c.writeRouted()
				}
				clear(cs)
				select {
				case w.spare <- cs[:0]:
				default:
				}
			}
		})
	}
}

// stop waits for the helpers to finish what they were handed.
func (w *routedWriters) stop() {
	if w.work == nil {
		return
	}
	close(w.work)
	w.wg.Wait()
	w.work, w.spare, w.helpers = nil, nil, 0
}

// write writes every claimed socket, sharing them with the helpers, and
// returns claimed emptied for the next pass. A helper whose queue of work
// is full leaves its share to the router.
func (w *routedWriters) write(claimed []*conn) []*conn {
	mine := claimed
	if w.helpers > 0 && len(claimed) >= minShared {
		share := len(claimed) / (w.helpers + 1)
		for range w.helpers {
			part := mine[len(mine)-share:]
			var cs []*conn
			select {
			case cs = <-w.spare:
			default:
			}
			cs = append(cs, part...)
			select {
			case w.work <- cs:
				mine = mine[:len(mine)-share]
			default:
			}
		}
	}
	for _, c := range mine {
		c.writeRouted()
	}
	clear(claimed)
	return claimed[:0]
}
