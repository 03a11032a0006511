package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/pgrealtime/realtime/gateway"
	"github.com/pgrealtime/realtime/gateway/migrate"
	"github.com/pgrealtime/realtime/gateway/policy"
)

// schemaTimeout bounds the migrations at start: a database that does not
// answer must not keep postgres_changes from starting.
const schemaTimeout = 30 * time.Second

// prepareSchema makes sure of the realtime schema (migrations, or with
// REALTIME_MIGRATIONS=false a check) and returns the publications to stream:
// the user's, plus the messages publication when broadcast from the
// database can work. A problem is logged with what to do about it, and the
// gateway goes on without that feature: postgres_changes never depends on it.
func prepareSchema(ctx context.Context, cfg gateway.Config, log *slog.Logger) (pubs []string, ok bool) {
	pubs = cfg.Publications
	ctx, cancel := context.WithTimeout(ctx, schemaTimeout)
	defer cancel()
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

// setPolicy lets srv authorize private channels by RLS when the schema
// they are checked against is in place; the checker's pool is closed with
// the closers when run returns.
func setPolicy(srv *gateway.Server, cfg gateway.Config, schemaReady bool, closers *[]func()) {
	if !schemaReady {
		return
	}
	p := policy.New(cfg.ConnString(), cfg.AfterConnectQuery)
	srv.SetPolicy(p)
	*closers = append(*closers, p.Close)
}
