// Command realtime-bench measures the gateway end to end: it opens N
// Phoenix WebSocket clients (vsn 1.0.0 topics and vsn 2.0.0
// postgres_changes, with and without eq filters), drives M row changes per
// second into PostgreSQL with a pool of writers, and reports per-message
// commit-to-receive latency, delivered messages per second, lost and
// duplicated counts, and the gateway's CPU, RSS and bytes per socket. Beside
// it, in the same run, it measures how fast PostgreSQL streams a burst of
// rows to a bare pgoutput consumer and to one gateway socket: the physical
// limit and how close the gateway gets to it.
//
// By default it starts everything itself: a throwaway PostgreSQL from the
// machine's binaries and the gateway binary built from this module. -db and
// -gateway use running ones instead. -dbcast measures broadcast from the
// database (realtime.send to one private channel) instead of postgres_changes.
//
//	go run ./cmd/realtime-bench -sockets 100 -rate 1000 -duration 10s
//
// -slow N makes N of the clients read at -slow-share (1%) of their
// messages per second through a 4 KiB receive buffer: the slow-consumer
// policy should close them while the others' latency stays put.
//
//	go run ./cmd/realtime-bench -sockets 1000 -slow 1 -rate 100 -duration 60s -filtered 0 -burst 0 -env OUTBOUND_QUEUE_BYTES=65536
//
// -rls measures authorization: the gateway runs with SECURE_CHANNELS, every
// socket is a different signed-in user (role authenticated, sub = its key),
// and the table has RLS with a policy that shows a row to the user whose
// key it carries. With -filtered 1 each user filters on its own rows (the
// filter runs in memory, then one check per row); with -filtered 0 every
// row is checked for every user.
//
//	go run ./cmd/realtime-bench -rls -sockets 1000 -keys 1000 -filtered 1 -vsn 2 -rate 5000 -burst 0
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type options struct {
	sockets  int
	rate     int
	batch    int
	duration time.Duration
	writers  int
	filtered float64
	keys     int
	vsn      string
	burst    int
	idle     bool
	// settle is how long the sockets stay idle before memory is read a
	// second time (0: only the first reading, a second after the last
	// join).
	settle  time.Duration
	dbURL   string
	gateway string
	pid     int
	jsonOut bool
	rls     bool
	// dbcast measures broadcast from the database instead: writers call
	// realtime.send to one private channel that every socket joins.
	dbcast bool
	// slow clients read at slowShare of what they are sent, through a
	// small receive buffer: the others' figures show whether one laggard
	// sets their pace. They are left out of the delivery counts.
	slow      int
	slowShare float64
	// env is added to the environment of the gateway the tool starts.
	env []string
}

func main() {
	var o options
	flag.IntVar(&o.sockets, "sockets", 100, "WebSocket clients")
	flag.IntVar(&o.rate, "rate", 1000, "row changes per second, in total")
	flag.IntVar(&o.batch, "batch", 1, "rows per transaction")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long the writers run")
	flag.IntVar(&o.writers, "writers", 4, "writer connections")
	flag.Float64Var(&o.filtered, "filtered", 0.5, "share of clients subscribed with an eq filter (the others get every row)")
	flag.IntVar(&o.keys, "keys", 10, "distinct filter values: a filtered client gets 1/keys of the rows")
	flag.StringVar(&o.vsn, "vsn", "mix", "client protocol: 1 (topics), 2 (postgres_changes) or mix")
	flag.IntVar(&o.burst, "burst", 50000, "rows of the one-transaction burst compared with a bare pgoutput consumer (0: skip)")
	flag.BoolVar(&o.idle, "idle", false, "only hold the sockets subscribed (no writes): report memory per idle socket")
	flag.DurationVar(&o.settle, "settle", 0, "also read the gateway's memory after the sockets have been idle this long (e.g. 60s): the runtime returns what the handshakes left in the background")
	flag.StringVar(&o.dbURL, "db", "", "PostgreSQL URL of a running database (default: start a throwaway cluster)")
	flag.StringVar(&o.gateway, "gateway", "", "base URL of a running gateway, e.g. http://127.0.0.1:4000 (default: build and start one)")
	flag.IntVar(&o.pid, "gateway-pid", 0, "with -gateway: its process id, for CPU and RSS")
	flag.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	flag.BoolVar(&o.rls, "rls", false, "authorization: secure channels, one user per key, RLS on the table (see the command's doc)")
	flag.BoolVar(&o.dbcast, "dbcast", false, "broadcast from the database: writers call realtime.send to one private channel every socket joins (-filtered is ignored)")
	flag.IntVar(&o.slow, "slow", 0, "clients that read slowly (see -slow-share); left out of the delivery figures, reported apart")
	flag.Float64Var(&o.slowShare, "slow-share", 0.01, "share of its messages per second a slow client reads")
	flag.Func("env", "KEY=VALUE for the gateway the tool starts (repeatable), e.g. -env OUTBOUND_QUEUE_BYTES=65536", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		o.env = append(o.env, s)
		return nil
	})
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := run(ctx, o, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime-bench:", err)
		os.Exit(1)
	}
	if o.jsonOut {
		rep.writeJSON(os.Stdout)
	} else {
		rep.writeTable(os.Stdout)
	}
	if rep.Lost > 0 || rep.Duplicated > 0 {
		os.Exit(2)
	}
}
