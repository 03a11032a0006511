package main

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/gateway"
	"github.com/pgrealtime/realtime/test/localpg"
)

// statusBoardSQL is the schema of the article the project started from
// (its two typos fixed): statuses, services, a publication, full replica identity.
//
//go:embed statusboard.sql
var statusBoardSQL string

// demo starts a throwaway PostgreSQL cluster from the machine's binaries,
// loads the status-board schema, and serves the gateway on it until Ctrl-C;
// then it removes the cluster.
func demo(ctx context.Context) error {
	fmt.Fprintln(os.Stderr, "starting a local PostgreSQL (wal_level=logical) in a temporary directory…")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	cluster, err := localpg.Start(startCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("demo needs PostgreSQL's server binaries: %w", err)
	}
	defer cluster.Close()
	dsn := cluster.ConnString("postgres")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, statusBoardSQL)
	conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("load status-board schema: %w", err)
	}

	cfg := gateway.Defaults()
	cfg.DBHost, cfg.DBPort, cfg.DBName, cfg.DBUser, cfg.DBSSL = "127.0.0.1", cluster.Port, "postgres", "postgres", false
	cfg.SecureChannels = false
	if p, ok := os.LookupEnv("PORT"); ok {
		if cfg.Port, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("PORT=%q: %w", p, err)
		}
	}
	if lvl, ok := os.LookupEnv("LOG_LEVEL"); ok {
		cfg.LogLevel = lvl
	}
	log := newLogger(cfg)
	return run(ctx, cfg, log, func(addr string) {
		_, port, _ := net.SplitHostPort(addr)
		fmt.Fprintf(os.Stderr, `
realtime gateway demo is running.

  WebSocket (realtime-js 1.x):  new RealtimeClient('ws://localhost:%[1]s/socket')
  topics:                       realtime:public:service:status_id=eq.1 (2, 3), realtime:public:service, realtime:*
  health:                       http://localhost:%[1]s/health
  PostgreSQL:                   %[2]s

Move a job between columns and watch it arrive:
  psql "%[2]s" -c "UPDATE public.service SET status_id = 2 WHERE id = 1"

Ctrl-C stops everything and removes the temporary cluster.
`, port, dsn)
	})
}
