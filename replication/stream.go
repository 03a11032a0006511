package replication

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
)

// Status is a snapshot of a Stream's state, for health checks and metrics.
type Status struct {
	// Live is true while changes are streaming: the slot exists and
	// START_REPLICATION succeeded on the current connection.
	Live bool
	// Slot is the slot in use (or last used); Temporary says which kind it is.
	Slot      string
	Temporary bool
	// LastError is the error that ended the last connection, cleared once the
	// stream is live again.
	LastError string
	// ReceivedLSN is the WAL position of the last message received.
	ReceivedLSN pglogrepl.LSN
	// ConfirmedLSN is the flush position last reported to PostgreSQL: what
	// the consumer confirmed, or the server's WAL end while idle.
	ConfirmedLSN pglogrepl.LSN
	// LagBytes is the WAL the slot retains (current WAL position minus the
	// slot's restart_lsn), measured at connect and every StatusInterval.
	LagBytes int64
	// Reconnects counts connections made after a failure.
	Reconnects int64
	// Stalled, when not empty, says why changes have not been flowing for
	// a while and how to fix it; Live is false meanwhile.
	Stalled string
}

// Stream is the logical replication stream of one database. Create it with
// New, run it once with Run.
type Stream struct {
	cfg Config
	log *slog.Logger
	cat *catalog

	ran        atomic.Bool
	confirmed  atomic.Uint64 // highest LSN the consumer confirmed
	flushed    atomic.Uint64 // flush LSN last reported to PostgreSQL
	received   atomic.Uint64
	lagBytes   atomic.Int64
	reconnects atomic.Int64

	mu        sync.Mutex
	live      bool
	slot      string
	temporary bool
	lastErr   string
	stalled   string
	liveCh    chan struct{} // closed the first time the stream is live
	wasLive   bool

	pos position // owned by the Run goroutine
}

// position is where the consumer is in the WAL. It outlives connections, so
// that a reconnect neither repeats nor (with a permanent slot) skips anything.
type position struct {
	lastFinal pglogrepl.LSN // commit LSN of the last transaction handed out whole
	lastEnd   pglogrepl.LSN // its end LSN, where streaming resumes
	// A transaction handed out in part (BatchSize reached) when the
	// connection broke: its commit LSN and how many changes went out.
	partialFinal pglogrepl.LSN
	partialCount int
	hadSlot      bool // a slot has been streaming before: a new one means a gap
	gap          bool // the next Batch must carry Gap
	// notice goes out with the next Batch: changes flow again after a
	// stall, or why a gap happened; when noticeOnLive is set (the stall
	// was a failure to connect), as soon as streaming starts instead.
	notice       *Notice
	noticeOnLive bool
}

// New validates cfg and fills in its defaults. It does not connect.
func New(cfg Config) (*Stream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Stream{cfg: cfg, log: cfg.Logger, liveCh: make(chan struct{}), slot: cfg.SlotName, temporary: cfg.TemporarySlot}
	s.cat = newCatalog(cfg.ConnString, cfg.AfterConnect, cfg.Publications)
	return s, nil
}

// Confirm records that the consumer has taken every change up to lsn (a
// Batch's CommitLSN). PostgreSQL hears of it with the next standby status
// update, within about 100 ms. Safe from any goroutine; lower values than
// one already confirmed are ignored.
func (s *Stream) Confirm(lsn pglogrepl.LSN) {
	for {
		cur := s.confirmed.Load()
		if uint64(lsn) <= cur || s.confirmed.CompareAndSwap(cur, uint64(lsn)) {
			return
		}
	}
}

// Status returns a snapshot of the stream's state. Safe from any goroutine.
func (s *Stream) Status() Status {
	s.mu.Lock()
	st := Status{Live: s.live && s.stalled == "", Slot: s.slot, Temporary: s.temporary, LastError: s.lastErr, Stalled: s.stalled}
	s.mu.Unlock()
	st.ReceivedLSN = pglogrepl.LSN(s.received.Load())
	st.ConfirmedLSN = pglogrepl.LSN(s.flushed.Load())
	st.LagBytes = s.lagBytes.Load()
	st.Reconnects = s.reconnects.Load()
	return st
}

// WaitLive returns once the stream has been live at least once (slot
// present, START_REPLICATION accepted), or with ctx's error.
func (s *Stream) WaitLive(ctx context.Context) error {
	select {
	case <-s.liveCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Table describes a table for join-time checks, from a cache refreshed at
// least every 2 s and whenever PostgreSQL announces a new shape of the
// table. Safe from any goroutine before and while Run runs; its connection
// pool is closed when Run returns, and later calls fail.
func (s *Stream) Table(ctx context.Context, schema, table string) (TableInfo, error) {
	return s.cat.table(ctx, schema, table)
}

// Run streams changes to out until ctx is done, then returns nil. It
// reconnects after every failure with capped exponential backoff, recording
// the error in Status. out should be buffered a little; while it is full, Run
// waits (backpressure) and keeps the replication connection alive. Every
// goroutine Run starts has stopped when it returns, and a temporary slot is
// gone with its connection. Run may be called once.
func (s *Stream) Run(ctx context.Context, out chan<- Batch) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errAlreadyRunning
	}
	var wg sync.WaitGroup
	monitorCtx, stopMonitor := context.WithCancel(ctx)
	wg.Go(func() { s.monitorLag(monitorCtx) })
	defer func() {
		stopMonitor()
		wg.Wait()
		s.cat.close()
		s.setLive(false)
	}()

	b := backoff{min: 250 * time.Millisecond, max: 15 * time.Second}
	var logged failureLog
	var stall stallWatch
	for {
		began, from := time.Now(), s.pos.lastEnd
		live, err := s.session(ctx, out)
		if ctx.Err() != nil {
			return nil
		}
		if s.pos.lastEnd != from || (live && time.Since(began) > 30*time.Second) {
			stall = stallWatch{}
		}
		if kind := stall.observe(err, live, time.Now()); kind != notStalled {
			s.reportStall(ctx, out, err, kind, stall.since)
		}
		// A connection that streamed for a while was healthy: start the
		// backoff over, so one restart of PostgreSQL is not paid for at the cap.
		if live && time.Since(began) > 30*time.Second {
			b.reset()
		}
		if live {
			logged = failureLog{} // a new outage: always worth a line
		}
		wait := b.next()
		s.fail(err, wait, &logged)
		s.cat.reset()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		s.reconnects.Add(1)
	}
}

// clearStall: changes flow again.
func (s *Stream) clearStall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = ""
}

func (s *Stream) setLive(live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
}

// goLive marks the stream live on slot.
func (s *Stream) goLive(slot slotInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live, s.slot, s.temporary, s.lastErr = true, slot.name, slot.temporary, ""
	if !s.wasLive {
		s.wasLive = true
		close(s.liveCh)
	}
}

// failureLog keeps one log line per failure from turning into a flood while
// PostgreSQL is down: during one outage (no live stream in between), an
// error identical to the last one is logged again only after a minute, with
// the count of those not logged.
type failureLog struct {
	last       string
	at         time.Time
	suppressed int
}

func (s *Stream) fail(err error, wait time.Duration, l *failureLog) {
	msg := err.Error()
	s.mu.Lock()
	s.live, s.lastErr = false, msg
	slot := s.slot
	s.mu.Unlock()
	if msg == l.last && time.Since(l.at) < time.Minute {
		l.suppressed++
		return
	}
	s.log.Error("replication stream failed, reconnecting", logSlot, slot, logErr, err,
		"retry_in", wait.Round(time.Millisecond), "repeats_not_logged", l.suppressed)
	l.last, l.at, l.suppressed = msg, time.Now(), 0
}

// backoff is capped exponential backoff with jitter, so that many gateways
// do not reconnect to a restarted database in lockstep.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	// ±20 % jitter.
	return time.Duration(float64(b.cur) * (0.8 + 0.4*rand.Float64()))
}

func (b *backoff) reset() { b.cur = 0 }
