package authz

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/replication"
)

// numbered is a batch of n changes that says where it was sent.
func numbered(i, n int) replication.Batch {
	return replication.Batch{Changes: make([]replication.Change, n), Commit: true, CommitLSN: pglogrepl.LSN(i)}
}

// roundSizes lists how many batches each round held, and fails t unless
// the rounds, end to end, are the batches 0..sent-1 in order.
func roundSizes(t *testing.T, rounds [][]replication.Batch, sent int) []int {
	t.Helper()
	var sizes []int
	next := 0
	for _, r := range rounds {
		sizes = append(sizes, len(r))
		for _, b := range r {
			if int(b.CommitLSN) != next {
				t.Fatalf("batch %d came where %d was due", b.CommitLSN, next)
			}
			next++
		}
	}
	if next != sent {
		t.Fatalf("%d batches came out of %d", next, sent)
	}
	return sizes
}

// Without checks each batch is its own round, and nothing reads ahead:
// the batches behind it are still in the stream's channel while it is
// routed.
func TestGatherRoundsUnchecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const sent = 5
		in := make(chan replication.Batch, sent)
		for i := range sent {
			in <- numbered(i, 1)
		}
		close(in)
		var rounds [][]replication.Batch
		GatherRounds(t.Context(), in, false, func(r []replication.Batch) {
			rounds = append(rounds, slices.Clone(r))
			if left, want := len(in), sent-len(rounds); left != want {
				t.Errorf("round %d: %d batches left in the channel, want %d", len(rounds), left, want)
			}
		})
		if sizes := roundSizes(t, rounds, sent); !slices.Equal(sizes, []int{1, 1, 1, 1, 1}) {
			t.Errorf("rounds of %v batches, want one each", sizes)
		}
	})
}

// gatherHeld runs GatherRounds with checks on batches of changes changes
// each: the first batch alone, then the rest while fn holds the first
// round, so every later round is gathered from a full queue. It returns
// the rounds.
func gatherHeld(t *testing.T, sent, changes int) [][]replication.Batch {
	t.Helper()
	var rounds [][]replication.Batch
	synctest.Test(t, func(t *testing.T) {
		in := make(chan replication.Batch, sent)
		release := make(chan struct{})
		done := make(chan struct{})
		in <- numbered(0, changes)
		go func() {
			defer close(done)
			GatherRounds(t.Context(), in, true, func(r []replication.Batch) {
				rounds = append(rounds, slices.Clone(r))
				<-release
			})
		}()
		synctest.Wait()
		for i := 1; i < sent; i++ {
			in <- numbered(i, changes)
		}
		close(in)
		for {
			// Every round is gathered only once the queue is as full as
			// it can be.
			synctest.Wait()
			select {
			case release <- struct{}{}:
			case <-done:
				return
			}
		}
	})
	return rounds
}

// With checks a round takes what is waiting, up to maxRound batches.
func TestGatherRoundsMaxBatches(t *testing.T) {
	sent := 1 + 2*maxRound + 3
	sizes := roundSizes(t, gatherHeld(t, sent, 1), sent)
	if want := []int{1, maxRound, maxRound, 3}; !slices.Equal(sizes, want) {
		t.Errorf("rounds of %v batches, want %v", sizes, want)
	}
}

// With checks a round stops at the batch that takes it to
// maxRoundChanges changes.
func TestGatherRoundsMaxChanges(t *testing.T) {
	const changes = 100
	perRound := (maxRoundChanges + changes - 1) / changes
	sent := 1 + 2*perRound + 3
	sizes := roundSizes(t, gatherHeld(t, sent, changes), sent)
	if want := []int{1, perRound, perRound, 3}; !slices.Equal(sizes, want) {
		t.Errorf("rounds of %v batches of %d changes, want %v", sizes, changes, want)
	}
}

// ctx ending while fn holds a round does not cut the round short; then
// GatherRounds returns, and its goroutine has stopped: nothing reads the
// stream's channel any more.
func TestGatherRoundsStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		in := make(chan replication.Batch, 8)
		in <- numbered(0, 1)
		var rounds [][]replication.Batch
		GatherRounds(ctx, in, true, func(r []replication.Batch) {
			cancel()
			rounds = append(rounds, slices.Clone(r))
		})
		if len(rounds) != 1 || len(rounds[0]) != 1 {
			t.Fatalf("rounds %v, want the one batch", rounds)
		}
		in <- numbered(1, 1)
		synctest.Wait()
		if len(in) != 1 {
			t.Error("a batch was taken after GatherRounds returned")
		}
	})
}
