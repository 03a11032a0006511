package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// setupTimeout bounds connecting, checking and START_REPLICATION, so a
	// server that accepts TCP but never answers does not hang the stream.
	// Creating a slot is not bounded: it waits for running transactions.
	setupTimeout = 30 * time.Second
	queryTimeout = 5 * time.Second
	closeTimeout = 3 * time.Second
	megabyte     = 1_000_000 // MAX_REPLICATION_LAG_MB counts 10^6 bytes, as the original
)

// slotInfo is the slot a connection streams from.
type slotInfo struct {
	name      string
	temporary bool
	// base is the slot's confirmed_flush_lsn when the stream starts (for a
	// new slot its consistent point): reporting less would move the slot back.
	base pglogrepl.LSN
}

// session runs one replication connection from checks to failure. live
// reports whether it got as far as streaming.
func (s *Stream) session(ctx context.Context, out chan<- Batch) (live bool, err error) {
	pool, err := s.cat.get()
	if err != nil {
		return false, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := check(setupCtx, pool, s.cfg.Publications); err != nil {
		return false, explainConnect(err)
	}
	conn, err := s.connect(setupCtx)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		conn.Close(closeCtx)
	}()
	slot, err := s.prepareSlot(ctx, conn)
	if err != nil {
		return false, err
	}
	startCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	opts := pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names " + publicationNames(s.cfg.Publications)},
	}
	// Resume after the last transaction handed out; PostgreSQL starts from
	// the slot's confirmed position when that is later.
	if err := pglogrepl.StartReplication(startCtx, conn, slot.name, s.pos.lastEnd, opts); err != nil {
		return false, fmt.Errorf("start replication on slot %q: %w", slot.name, explain(err, slot.name))
	}
	s.goLive(slot)
	s.pos.hadSlot = true
	if s.pos.noticeOnLive {
		// Streaming from a new slot, or again after an outage: changes
		// flow, and the clients hear it now rather than with the next change.
		s.clearStall()
		s.notify(ctx, out, s.pos.notice)
		s.pos.notice, s.pos.noticeOnLive = nil, false
	}
	s.log.Info("replication streaming", logSlot, slot.name, "temporary", slot.temporary,
		logLSN, max(slot.base, s.pos.lastEnd).String(), logPublication, s.cfg.Publications)
	ss := newSession(ctx, s, conn, slot)
	return true, ss.run(ctx, out)
}

// connect opens the replication connection.
func (s *Stream) connect(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "realtime"
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open replication connection: %w", explainConnect(explain(err, "")))
	}
	return conn, nil
}

// prepareSlot creates the slot, or checks and reuses a permanent one.
func (s *Stream) prepareSlot(ctx context.Context, conn *pgconn.PgConn) (slotInfo, error) {
	name := s.cfg.SlotName
	if s.cfg.TemporarySlot {
		if name == "" {
			// A fresh name per connection: the previous connection's slot may
			// not be gone yet when a reconnect is quick.
			name = fmt.Sprintf("realtime_tmp_%08x", rand.Uint32())
		}
		return s.createSlot(ctx, conn, name, true)
	}
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	row, found, err := s.cat.slot(qctx, name)
	if err != nil {
		return slotInfo{}, err
	}
	if !found {
		return s.createSlot(ctx, conn, name, false)
	}
	if err := row.usable(name); err != nil {
		return slotInfo{}, err
	}
	s.lagBytes.Store(row.lag)
	limit := int64(s.cfg.MaxLagMB) * megabyte
	lost := row.walStatus == "lost"
	if !lost && (limit == 0 || row.lag <= limit) {
		return slotInfo{name: name, base: row.confirmed}, nil
	}
	// Over the limit at connect, the original drops the slot and starts over.
	// So do we, but loudly: this is where changes are lost.
	reason := fmt.Sprintf("it retains %d MB of WAL, over MAX_REPLICATION_LAG_MB=%d", row.lag/megabyte, s.cfg.MaxLagMB)
	if lost {
		reason = "PostgreSQL removed WAL it still needed (max_slot_wal_keep_size)"
	}
	s.log.Error("dropping replication slot: "+reason+"; the changes retained in the slot were discarded and will not be delivered",
		logSlot, name, "lag_mb", row.lag/megabyte, "limit_mb", s.cfg.MaxLagMB, logLSN, row.confirmed.String())
	if err := pglogrepl.DropReplicationSlot(ctx, conn, name, pglogrepl.DropReplicationSlotOptions{}); err != nil {
		return slotInfo{}, fmt.Errorf("drop replication slot %q: %w", name, explain(err, name))
	}
	s.markGap()
	s.pos.notice = &Notice{Skipped: true, Message: fmt.Sprintf("The replication slot was dropped and recreated because %s: changes committed before now that were not yet delivered were skipped.", reason)}
	s.pos.noticeOnLive = true
	return s.createSlot(ctx, conn, name, false)
}

// createSlot creates a pgoutput slot. Starting from a new slot after another
// one streamed means a gap: what was committed in between was kept by no slot.
func (s *Stream) createSlot(ctx context.Context, conn *pgconn.PgConn, name string, temporary bool) (slotInfo, error) {
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, name, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Temporary: temporary, SnapshotAction: "NOEXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication,
	})
	if err != nil {
		return slotInfo{}, fmt.Errorf("create replication slot %q: %w", name, explain(err, name))
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return slotInfo{}, fmt.Errorf("create replication slot %q: %w", name, err)
	}
	if lsn < s.pos.lastEnd {
		// A new slot starts at the current WAL position, which cannot be
		// behind what we streamed unless this is another server (a restore
		// or a failover to an older copy): positions from the old one mean
		// nothing here.
		s.log.Warn("database WAL position is behind what the stream delivered; forgetting the old position",
			logSlot, name, logLSN, lsn.String(), "delivered_lsn", s.pos.lastEnd.String())
		s.pos.lastFinal, s.pos.lastEnd = 0, 0
	}
	if s.pos.hadSlot && !s.pos.gap {
		s.log.Warn("streaming from a new replication slot: changes committed while disconnected are lost",
			logSlot, name, "temporary", temporary, logLSN, lsn.String())
	}
	if s.pos.hadSlot {
		s.markGap()
		if !temporary && s.pos.notice == nil {
			// The gap's generic message speaks of temporary slots.
			s.pos.notice = &Notice{Skipped: true, Message: fmt.Sprintf("The replication slot %q was gone (dropped outside the gateway?) and was created again: changes committed while no slot held them were skipped.", name)}
			s.pos.noticeOnLive = true
		}
	}
	s.lagBytes.Store(0)
	s.log.Info("created replication slot", logSlot, name, "temporary", temporary, logLSN, lsn.String())
	return slotInfo{name: name, temporary: temporary, base: lsn}, nil
}

// markGap flags the next Batch and forgets a transaction handed out in part:
// a new slot will not send its rest.
func (s *Stream) markGap() {
	s.pos.gap = true
	s.pos.partialFinal, s.pos.partialCount = 0, 0
}

// slotRow is our slot's row in pg_replication_slots.
type slotRow struct {
	slotType, plugin, database, currentDB string
	active, temporary                     bool
	activePID                             int32
	confirmed                             pglogrepl.LSN
	lag                                   int64
	walStatus                             string
}

// usable says why an existing slot cannot be streamed from, with the fix.
func (r slotRow) usable(name string) error {
	drop := fmt.Sprintf("choose another SLOT_NAME, or drop it: SELECT pg_drop_replication_slot('%s');", name)
	switch {
	case r.slotType != "logical":
		return setupErrorf(ErrSlotUnsuitable, "replication slot %q is a %s slot, not a logical one: %s", name, r.slotType, drop)
	case r.plugin != "pgoutput":
		return setupErrorf(ErrSlotUnsuitable, "replication slot %q uses output plugin %q, not pgoutput: %s", name, r.plugin, drop)
	case r.database != r.currentDB:
		return setupErrorf(ErrSlotUnsuitable, "replication slot %q belongs to database %q, not %q: %s", name, r.database, r.currentDB, drop)
	case r.active || r.temporary:
		return setupErrorf(ErrSlotActive,
			"replication slot %q is active in another connection (PID %d): stop the other consumer (another realtime instance?) or set a different SLOT_NAME", name, r.activePID)
	}
	return nil
}

// explain adds the fix to PostgreSQL errors whose cause is a setup problem,
// keeping the original error reachable with errors.As.
func explain(err error, slot string) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "55006": // object_in_use
		return &causeError{kind: ErrSlotActive, cause: err, msg: fmt.Sprintf(
			"replication slot %q is active in another connection: stop the other consumer (another realtime instance?) or set a different SLOT_NAME: %v", slot, err)}
	case "42501", "28000": // insufficient_privilege, invalid_authorization_specification
		return &causeError{kind: ErrNoReplication, cause: err, msg: fmt.Sprintf(
			"%v: the role needs the REPLICATION attribute (ALTER ROLE ... WITH REPLICATION;) and pg_hba.conf must allow replication connections", err)}
	case "42704": // undefined_object: pgoutput's "publication does not exist"
		return &causeError{kind: ErrNoPublication, cause: err, msg: fmt.Sprintf(
			"%v: create it, e.g. CREATE PUBLICATION supabase_realtime FOR ALL TABLES;", err)}
	}
	return err
}

// causeError is a setup error that also wraps the PostgreSQL error behind it.
type causeError struct {
	kind, cause error
	msg         string
}

func (e *causeError) Error() string   { return e.msg }
func (e *causeError) Unwrap() []error { return []error{e.kind, e.cause} }

// monitorLag measures the WAL our slot retains every StatusInterval, over
// the catalog pool so the replication connection stays with Run. Over
// MaxLagMB it logs, at most once a minute, but never drops a slot in use:
// the consumer is behind, and the slot still holds its changes.
func (s *Stream) monitorLag(ctx context.Context) {
	t := time.NewTicker(s.cfg.StatusInterval)
	defer t.Stop()
	var logged time.Time
	limit := int64(s.cfg.MaxLagMB) * megabyte
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := s.Status()
		if !st.Live {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		row, found, err := s.cat.slot(qctx, st.Slot)
		cancel()
		if err != nil || !found {
			s.log.Debug("measure replication slot lag", logSlot, st.Slot, logErr, err)
			continue
		}
		s.lagBytes.Store(row.lag)
		if limit > 0 && row.lag > limit && time.Since(logged) >= time.Minute {
			logged = time.Now()
			s.log.Error("replication slot retains more WAL than MAX_REPLICATION_LAG_MB allows; the consumer is behind. The slot is kept while streaming (dropping it would lose its changes)",
				logSlot, st.Slot, "lag_mb", row.lag/megabyte, "limit_mb", s.cfg.MaxLagMB, logLSN, st.ConfirmedLSN.String())
		}
	}
}

// readSlot reads one slot's row; found is false when there is none.
func readSlot(ctx context.Context, q querier, name string) (r slotRow, found bool, err error) {
	var confirmed string
	err = q.QueryRow(ctx, `
SELECT slot_type, coalesce(plugin, ''), coalesce(database::text, ''), current_database(),
       active, temporary, coalesce(active_pid, 0), coalesce(confirmed_flush_lsn::text, ''),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8, 0), coalesce(wal_status, '')
FROM pg_replication_slots WHERE slot_name = $1`, name).Scan(
		&r.slotType, &r.plugin, &r.database, &r.currentDB, &r.active, &r.temporary, &r.activePID,
		&confirmed, &r.lag, &r.walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read replication slot %q: %w", name, err)
	}
	if confirmed != "" {
		if r.confirmed, err = pglogrepl.ParseLSN(confirmed); err != nil {
			return r, false, fmt.Errorf("read replication slot %q: %w", name, err)
		}
	}
	return r, true, nil
}
