package authz

import (
	"context"
	"sync"

	"github.com/pgrealtime/realtime/replication"
)

// maxRound caps how many queued batches one routing round takes: one round
// of visibility checks serves them all, and a round costs about the same
// for 10 rows as for 200 (one statement per subject, not per row).
// maxRoundChanges keeps a round's checks well inside their timeout (a row
// costs about 1 us per subject it is checked for) and bounds what waits in
// memory.
const (
	maxRound        = 128
	maxRoundChanges = 1024
)

// GatherRounds hands fn the batches of in, in order, as routing rounds,
// until in is closed or ctx is done. With checks, a round is the batch
// received and every batch already waiting behind it, up to maxRound
// batches or maxRoundChanges changes, taken without waiting for more.
// Without checks a round is exactly one batch and nothing runs beside fn:
// there is nothing to share between batches.
//
// fn runs on the caller's goroutine and ctx never interrupts a round it
// was handed: whether a round that began is finished is fn's to decide.
// The slice is reused for the next round, so fn must not keep it.
func GatherRounds(ctx context.Context, in <-chan replication.Batch, checks bool, fn func([]replication.Batch)) {
	if checks {
		// While fn checks a round, the next one gathers here: the stream's
		// own channel is short, and rounds as long as it would make the
		// checks per row many times dearer. Bounded, so a slow database
		// still holds the stream back.
		fctx, stop := context.WithCancel(ctx)
		queue := make(chan replication.Batch, maxRound)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer stop()
		src := in
		wg.Go(func() { forward(fctx, src, queue) })
		in = queue
	}
	var round []replication.Batch
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-in:
			if !ok {
				return
			}
			round = append(round[:0], b)
			if checks {
				round = takeWaiting(in, round, len(b.Changes))
			}
			fn(round)
			// The batches' changes are not held until the next round.
			clear(round)
		}
	}
}

// forward moves batches from src to queue until src is closed or ctx is
// done, then closes queue.
func forward(ctx context.Context, src <-chan replication.Batch, queue chan<- replication.Batch) {
	defer close(queue)
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-src:
			if !ok {
				return
			}
			select {
			case queue <- b:
			case <-ctx.Done():
				return
			}
		}
	}
}

// takeWaiting appends to round the batches already waiting in in, within
// the round's bounds; changes is how many round holds.
func takeWaiting(in <-chan replication.Batch, round []replication.Batch, changes int) []replication.Batch {
	for len(round) < maxRound && changes < maxRoundChanges {
		select {
		case b, ok := <-in:
			if !ok {
				return round
			}
			round = append(round, b)
			changes += len(b.Changes)
		default:
			return round
		}
	}
	return round
}
