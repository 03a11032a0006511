package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// stallAfter is how many times in a row the stream must fail the same
	// way after START_REPLICATION, delivering nothing, to count as stuck: a
	// restart of PostgreSQL ends a connection once or twice, a slot that
	// cannot decode past some point fails every time.
	stallAfter = 3
	// downFor is how long the stream may fail to start before the clients
	// are told that changes are not flowing.
	downFor = 10 * time.Second
)

// ErrSlotStuck: the slot cannot decode past some point of the WAL, so
// every connection fails there the same way.
var ErrSlotStuck = errors.New("replication slot cannot decode past this point")

type stallKind uint8

const (
	notStalled stallKind = iota
	stallStuck           // streams, then fails at the same point every time
	stallDown            // cannot even start streaming, for a while
)

// stallWatch tells repeated failures of one kind from a passing outage.
// Owned by Run; reset whenever the stream makes progress.
type stallWatch struct {
	last     string
	repeats  int
	since    time.Time
	reported bool
}

// observe records a failed session and returns the kind of stall, once
// per stall.
func (w *stallWatch) observe(err error, live bool, now time.Time) stallKind {
	if w.since.IsZero() {
		w.since = now
	}
	switch msg := err.Error(); {
	case !live:
		w.last, w.repeats = "", 0
	case msg == w.last:
		w.repeats++
	default:
		w.last, w.repeats = msg, 1
	}
	if w.reported {
		return notStalled
	}
	switch {
	case w.repeats >= stallAfter:
		w.reported = true
		return stallStuck
	case w.repeats == 0 && now.Sub(w.since) >= downFor:
		w.reported = true
		return stallDown
	}
	return notStalled
}

// stuckPublication explains pgoutput's "publication does not exist" met
// while streaming: the publication exists (the check at connect passed,
// or the stream would not have started), but not in the catalog snapshot
// of the WAL being decoded, which PostgreSQL 15 reads as of that point.
func stuckPublication(err *pgconn.PgError, slot string) error {
	return &causeError{kind: ErrSlotStuck, cause: err, msg: fmt.Sprintf(
		"%v: the publication was dropped (and perhaps created again) while slot %q still had changes from before, "+
			"and PostgreSQL cannot decode past that point with this slot. Recreate the slot, which skips what was committed since: "+
			"set RECREATE_STUCK_SLOT=true, or run SELECT pg_drop_replication_slot('%s');", err, slot, slot)}
}

// reportStall tells the consumer (and Status) that changes are not
// flowing, and recreates a stuck permanent slot when allowed to.
func (s *Stream) reportStall(ctx context.Context, out chan<- Batch, err error, kind stallKind, since time.Time) {
	slot := s.Status().Slot
	why := fmt.Sprintf("Changes are not flowing: the replication stream keeps failing: %v", err)
	if kind == stallDown {
		why = fmt.Sprintf("Changes are not flowing: the gateway cannot start replication: %v", err)
	}
	recreate := kind == stallStuck && s.cfg.RecreateStuckSlot && !s.cfg.TemporarySlot && s.cfg.SlotName != ""
	if recreate {
		if derr := s.dropSlot(ctx, slot); derr != nil {
			s.log.Error("could not drop the stuck replication slot", logSlot, slot, logErr, derr)
			recreate = false
		}
	}
	resumed := "Changes are flowing again."
	if recreate {
		why = fmt.Sprintf("Changes stopped: the replication slot %q could not decode past a point of the WAL (%v). "+
			"It was recreated (RECREATE_STUCK_SLOT): changes committed since %s are skipped.",
			slot, err, since.UTC().Format(time.RFC3339))
		resumed = "Changes are flowing again on a recreated replication slot; changes committed while it was stuck were skipped."
		s.log.Error("dropped the stuck replication slot to recreate it: changes committed since it got stuck are skipped",
			logSlot, slot, logErr, err)
	} else {
		s.log.Error("replication is stalled: clients are told that changes are not flowing", logSlot, slot, logErr, err)
	}
	s.mu.Lock()
	if !recreate {
		s.stalled = why
	}
	s.mu.Unlock()
	// Once a new slot, or a connection after an outage, streams, changes
	// flow; a stuck slot proves it only by handing out a change.
	s.pos.notice, s.pos.noticeOnLive = &Notice{Message: resumed, Skipped: recreate}, kind == stallDown || recreate
	s.notify(ctx, out, &Notice{Stalled: true, Message: why})
}

// notify hands the consumer a Batch that carries only n, and the pending
// gap, which n explains.
func (s *Stream) notify(ctx context.Context, out chan<- Batch, n *Notice) {
	select {
	case out <- Batch{Notice: n, Gap: s.pos.gap}:
		s.pos.gap = false
	case <-ctx.Done():
	}
}

// dropSlot drops our permanent slot over the catalog pool. The walsender
// of the failed connection may hold it for a moment after the connection
// closed, so "active" is retried briefly.
func (s *Stream) dropSlot(ctx context.Context, slot string) error {
	pool, err := s.cat.get()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		_, err = pool.Exec(qctx, "SELECT pg_drop_replication_slot($1)", slot)
		cancel()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// isPublicationMissing reports pgoutput's "publication ... does not exist".
func isPublicationMissing(err *pgconn.PgError) bool {
	return err.Code == "42704" && strings.Contains(err.Message, "publication")
}
