package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

const (
	// pollInterval bounds every wait of the stream (for a message, or for a
	// slow consumer), so that status updates go out on time even while out
	// is full or nothing arrives.
	pollInterval = 100 * time.Millisecond
	// confirmEvery rate-limits the status updates that report a new flush
	// position. What was delivered but not yet confirmed is sent again
	// after a crash, so this bounds the duplicates to about this much of
	// the write rate; PostgreSQL writes the slot to disk only when its
	// restart position moves, so ten updates a second cost it little.
	confirmEvery = 100 * time.Millisecond
	// writeTimeout bounds sending a status update to a server that stopped
	// reading.
	writeTimeout = 10 * time.Second
)

// pgEpoch is PostgreSQL's time origin, for the standby status update.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// session is the state of one replication connection, owned by Run.
type session struct {
	s    *Stream
	conn *pgconn.PgConn
	dec  *decoder
	slot slotInfo

	idle       pglogrepl.LSN // server WAL end confirmable while nothing was outstanding
	received   pglogrepl.LSN
	lastStatus time.Time
	lastFlush  pglogrepl.LSN
	buf        []byte
	wait       *time.Timer

	tick      context.Context // deadline of the current receive poll
	stopTick  context.CancelFunc
	tickUntil time.Time

	// The transaction being received.
	inTx    bool
	skip    bool // handed out whole before a reconnect: drop it
	skipN   int  // its first skipN changes were handed out before a reconnect
	final   pglogrepl.LSN
	pending []Change
}

func newSession(ctx context.Context, s *Stream, conn *pgconn.PgConn, slot slotInfo) *session {
	ss := &session{s: s, conn: conn, slot: slot, lastStatus: time.Now()}
	ss.dec = newDecoder(func(oid uint32) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		return s.cat.typeName(ctx, oid)
	})
	return ss
}

// run receives until the connection fails or ctx is done. On ctx it tells
// PostgreSQL the confirmed position one last time.
func (ss *session) run(ctx context.Context, out chan<- Batch) error {
	defer func() {
		if ss.stopTick != nil {
			ss.stopTick()
		}
	}()
	for {
		msg, err := ss.receive(ctx)
		if err == nil && msg != nil {
			err = ss.handle(ctx, out, msg)
		}
		if err == nil {
			err = ss.maybeStatus(false)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			if err := ss.sendStatus(time.Now(), ss.flushPos()); err != nil {
				ss.s.log.Warn("send final standby status", logSlot, ss.slot.name, logErr, err)
			}
			return ctx.Err()
		}
		return err
	}
}

// receive waits at most until the end of the current poll interval. A nil
// message with a nil error means the interval passed.
func (ss *session) receive(ctx context.Context) (pgproto3.BackendMessage, error) {
	// One deadline context serves many messages: making one per message
	// would cost a timer each on the hot path.
	if now := time.Now(); ss.tick == nil || !now.Before(ss.tickUntil) {
		if ss.stopTick != nil {
			ss.stopTick()
		}
		ss.tickUntil = now.Add(pollInterval)
		ss.tick, ss.stopTick = context.WithDeadline(ctx, ss.tickUntil)
	}
	msg, err := ss.conn.ReceiveMessage(ss.tick)
	if err != nil {
		// A read interrupted by the poll deadline leaves the connection
		// usable: pgconn keeps a partly read message for the next call.
		if ctx.Err() == nil && ss.tick.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("receive from replication connection: %w", err)
	}
	return msg, nil
}

func (ss *session) handle(ctx context.Context, out chan<- Batch, msg pgproto3.BackendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		return ss.copyData(ctx, out, m.Data)
	case *pgproto3.ErrorResponse:
		err := pgconn.ErrorResponseToPgError(m)
		if isPublicationMissing(err) {
			return fmt.Errorf("replication stream on slot %q: %w", ss.slot.name, stuckPublication(err, ss.slot.name))
		}
		return fmt.Errorf("replication stream on slot %q: %w", ss.slot.name, explain(err, ss.slot.name))
	case *pgproto3.CopyDone:
		return errServerEndedCopy
	}
	return nil // notices and parameter changes need nothing
}

func (ss *session) copyData(ctx context.Context, out chan<- Batch, data []byte) error {
	if len(data) == 0 {
		return errors.New("empty CopyData message on replication connection")
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("parse keepalive: %w", err)
		}
		ss.setReceived(k.ServerWALEnd)
		// Nothing open and everything handed out confirmed: the server has
		// sent all it will for WAL before its end position, so that may be
		// confirmed too, or an idle slot on a busy database would pin WAL.
		if !ss.inTx && pglogrepl.LSN(ss.s.confirmed.Load()) >= ss.s.pos.lastEnd {
			ss.idle = max(ss.idle, k.ServerWALEnd)
		}
		if k.ReplyRequested {
			return ss.sendStatus(time.Now(), ss.flushPos())
		}
		return nil
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("parse XLogData: %w", err)
		}
		return ss.xlogData(ctx, out, x)
	}
	return fmt.Errorf("unknown replication message %q", data[0])
}

func (ss *session) setReceived(lsn pglogrepl.LSN) {
	if lsn > ss.received {
		ss.received = lsn
		ss.s.received.Store(uint64(lsn))
	}
}

func (ss *session) xlogData(ctx context.Context, out chan<- Batch, x pglogrepl.XLogData) error {
	ss.setReceived(x.WALStart)
	m, changes, err := ss.dec.decode(x.WALStart, x.WALData, ss.pending)
	if err != nil {
		return err
	}
	switch m.kind {
	case msgBegin:
		ss.begin(m)
	case msgChange:
		return ss.add(ctx, out, changes)
	case msgCommit:
		return ss.commit(ctx, out, m)
	case msgRelation:
		ss.s.cat.invalidate(m.rel.Schema, m.rel.Table)
	}
	return nil
}

// begin starts a transaction and decides how much of it was handed out
// before a reconnect.
func (ss *session) begin(m message) {
	pos := &ss.s.pos
	ss.inTx, ss.final, ss.skipN = true, m.finalLSN, 0
	ss.skip = pos.lastEnd != 0 && m.finalLSN <= pos.lastFinal
	switch {
	case ss.skip || pos.partialCount == 0:
	case m.finalLSN == pos.partialFinal:
		// Decoding is deterministic: the replay repeats the same changes in
		// the same order, so the first partialCount were handed out already.
		ss.skipN = pos.partialCount
	default:
		ss.s.log.Warn("a transaction handed out in part before the reconnect was not sent again",
			logSlot, ss.slot.name, logLSN, pos.partialFinal.String(), "changes_handed", pos.partialCount)
		ss.s.markGap()
		// Counted from zero again: this transaction's batches are its own.
		pos.partialFinal, pos.partialCount = 0, 0
	}
}

// add takes the changes the decoder appended and hands out full batches.
func (ss *session) add(ctx context.Context, out chan<- Batch, changes []Change) error {
	n := len(ss.pending)
	switch {
	case ss.skip:
		changes = changes[:n]
	case ss.skipN > 0:
		drop := min(ss.skipN, len(changes)-n)
		changes = append(changes[:n], changes[n+drop:]...)
		ss.skipN -= drop
	}
	ss.pending = changes
	size := ss.s.cfg.BatchSize
	// Hand out a full batch only when one more change arrives, so that the
	// commit batch of a transaction is never empty when it has changes.
	for len(ss.pending) > size {
		b := Batch{Changes: ss.pending[:size:size], FinalLSN: ss.final, First: ss.s.pos.partialCount}
		rest := append(make([]Change, 0, min(size, 64)), ss.pending[size:]...)
		if err := ss.hand(ctx, out, b); err != nil {
			return err
		}
		ss.s.pos.partialFinal = ss.final
		ss.s.pos.partialCount += size
		ss.pending = rest
	}
	return nil
}

// commit hands out the rest of the transaction, even when it is empty, so
// the consumer confirms it and the WAL behind it can go.
func (ss *session) commit(ctx context.Context, out chan<- Batch, m message) error {
	ss.inTx = false
	pos := &ss.s.pos
	if ss.skip {
		ss.pending = ss.pending[:0]
		return nil
	}
	b := Batch{Changes: ss.pending, Commit: true, CommitLSN: m.endLSN, CommitTime: m.commitTime, FinalLSN: ss.final, First: pos.partialCount}
	ss.pending = nil
	if err := ss.hand(ctx, out, b); err != nil {
		return err
	}
	pos.lastFinal, pos.lastEnd = ss.final, m.endLSN
	pos.partialFinal, pos.partialCount = 0, 0
	return nil
}

// hand gives b to the consumer, waiting as long as it takes.
func (ss *session) hand(ctx context.Context, out chan<- Batch, b Batch) error {
	b.Gap = ss.s.pos.gap
	if n := ss.s.pos.notice; n != nil {
		b.Notice = n
		ss.s.clearStall()
	}
	select {
	case out <- b:
	default:
		if err := ss.handSlowly(ctx, out, b); err != nil {
			return err
		}
	}
	ss.s.pos.gap, ss.s.pos.notice = false, nil
	return nil
}

// handSlowly waits for a slow consumer. Meanwhile it keeps sending standby
// status updates: PostgreSQL ends a connection that has not replied within
// wal_sender_timeout, and the backpressure must land on the WAL, not on the
// connection.
func (ss *session) handSlowly(ctx context.Context, out chan<- Batch, b Batch) error {
	if ss.wait == nil {
		ss.wait = time.NewTimer(pollInterval)
	} else {
		ss.wait.Reset(pollInterval)
	}
	defer ss.wait.Stop()
	for {
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-ss.wait.C:
			if err := ss.maybeStatus(false); err != nil {
				return err
			}
			ss.wait.Reset(pollInterval)
		}
	}
}

// flushPos is the position PostgreSQL may release WAL before: what the
// consumer confirmed, never past what was handed out, never below where the
// slot already was, or the idle position.
func (ss *session) flushPos() pglogrepl.LSN {
	c := min(pglogrepl.LSN(ss.s.confirmed.Load()), ss.s.pos.lastEnd)
	return max(ss.slot.base, c, ss.idle)
}

// maybeStatus sends a standby status update every StatusInterval, and
// within about confirmEvery of the flush position advancing.
func (ss *session) maybeStatus(force bool) error {
	now := time.Now()
	flush := ss.flushPos()
	since := now.Sub(ss.lastStatus)
	if !force && since < ss.s.cfg.StatusInterval && (flush <= ss.lastFlush || since < confirmEvery) {
		return nil
	}
	return ss.sendStatus(now, flush)
}

// sendStatus writes a Standby Status Update. It is encoded here rather than
// by pglogrepl.SendStandbyStatusUpdate, which replaces a zero flush position
// with the write position: that would confirm what the consumer has not.
func (ss *session) sendStatus(now time.Time, flush pglogrepl.LSN) error {
	write := max(ss.received, flush)
	data := ss.buf[:0]
	data = append(data, 'd', 0, 0, 0, 0, pglogrepl.StandbyStatusUpdateByteID)
	data = binary.BigEndian.AppendUint64(data, uint64(write))
	data = binary.BigEndian.AppendUint64(data, uint64(flush))
	data = binary.BigEndian.AppendUint64(data, uint64(flush)) // apply: nothing is applied beyond the flush
	data = binary.BigEndian.AppendUint64(data, uint64(now.Sub(pgEpoch).Microseconds()))
	data = append(data, 0) // no reply requested
	binary.BigEndian.PutUint32(data[1:], uint32(len(data)-1))
	ss.buf = data

	nc := ss.conn.Conn()
	nc.SetWriteDeadline(now.Add(writeTimeout))
	err := ss.conn.Frontend().SendUnbufferedEncodedCopyData(data)
	nc.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	ss.lastStatus, ss.lastFlush = now, flush
	ss.s.flushed.Store(uint64(flush))
	return nil
}
