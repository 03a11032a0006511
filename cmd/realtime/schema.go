package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgrealtime/realtime/gateway/migrate"
)

// schemaTimeout bounds the migrations at start: a database that does not
// answer must not keep postgres_changes from starting.
const schemaTimeout = 30 * time.Second

// prepareSchema makes sure of the realtime schema (migrations, or with
// REALTIME_MIGRATIONS=false a check) and returns the publications to stream:
// the user's, plus the messages publication when broadcast from the
// database can work. A problem is logged with what to do about it, and the
// gateway goes on without that feature: postgres_changes never depends on it.
func prepareSchema(ctx context.Context, cfg Config, log *slog.Logger) (pubs []string, ok bool) {
	pubs = cfg.Publications
	ctx, cancel := context.WithTimeout(ctx, schemaTimeout)
	defer cancel()
	// A database still starting (a compose file without a health
	// condition) is waited for, within schemaTimeout: giving up at once
	// would leave these features off until the next restart.
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		err := migrate.Check(ctx, cfg.ConnString())
		if !unreachable(err) {
			break
		}
		log.Warn("waiting for the database to set up the realtime schema", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			log.Error("the database did not answer at start: private channels and broadcast from the database are off until the gateway restarts", "err", err)
			return pubs, false
		case <-time.After(wait):
		}
	}
	if cfg.Migrations {
		if _, err := migrate.Run(ctx, cfg.ConnString(), log); err != nil {
			log.Error("cannot migrate the realtime schema: private channels and broadcast from the database are off unless it is already in place", "err", err)
		}
	}
	if err := migrate.Check(ctx, cfg.ConnString()); err != nil {
		log.Error("private channels and broadcast from the database are off", "err", err)
		return pubs, false
	}
	if !slices.Contains(pubs, migrate.Publication) {
		pubs = append(slices.Clone(pubs), migrate.Publication)
	}
	return pubs, true
}

// unreachable: no database answered, or it is still starting. A server
// that answered with another error (a wrong password) will not change its
// mind by waiting.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr) || pgErr.Code == "57P03" // cannot_connect_now
}
