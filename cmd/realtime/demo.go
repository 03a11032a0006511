package main

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	boardLn, err := listenBoard()
	if err != nil {
		return err
	}

	cfg := Defaults()
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
	b := &board{db: pool, gatewayPort: strconv.Itoa(cfg.Port), dsn: dsn, bundle: findSupabaseJS(), log: log.With("component", "board")}
	var wg sync.WaitGroup
	defer wg.Wait() // after stopBoard (defers run last-in first-out)
	boardCtx, stopBoard := context.WithCancel(ctx)
	defer stopBoard()
	wg.Go(func() { serveBoard(boardCtx, boardLn, b) })
	return run(ctx, cfg, log, func(addr string) {
		_, port, _ := net.SplitHostPort(addr)
		_, boardPort, _ := net.SplitHostPort(boardLn.Addr().String())
		client := "supabase-js from " + b.bundle
		if b.bundle == "" {
			client = "supabase-js from the jsDelivr CDN (run `npm ci` in test/v2/js for a local copy)"
		}
		fmt.Fprintf(os.Stderr, `
realtime gateway demo is running.

  Status board:                 http://localhost:%[3]s/   (%[4]s)
  WebSocket (realtime-js 2.x):  createClient('http://localhost:%[1]s', 'any-key')  ->  /realtime/v1/websocket
  WebSocket (realtime-js 1.x):  new RealtimeClient('ws://localhost:%[1]s/socket')
  topics (1.x):                 realtime:public:service:status_id=eq.1 (2, 3), realtime:public:service, realtime:*
  health:                       http://localhost:%[1]s/health
  PostgreSQL:                   %[2]s

Move a job between columns and watch the board:
  psql "%[2]s" -c "UPDATE public.service SET status_id = 2 WHERE id = 1"

Ctrl-C stops everything and removes the temporary cluster.
`, port, dsn, boardPort, client)
	})
}
