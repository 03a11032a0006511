package durability

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgrealtime/realtime/test/harness"
)

// insertEach commits one row per transaction for ids [from, to], retrying
// through a database restart. A retry that hits the primary key means the
// earlier attempt had committed.
func insertEach(t *testing.T, dbURL string, from, to int64) {
	t.Helper()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for id := from; id <= to; {
		if time.Now().After(deadline) {
			t.Fatalf("could not insert id %d within 60s", id)
		}
		if conn == nil {
			c, err := pgx.Connect(t.Context(), dbURL)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			conn = c
		}
		_, err := conn.Exec(t.Context(), "INSERT INTO public.items (id, n) VALUES ($1, 0)", id)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "23505") {
			conn.Close(context.Background())
			conn = nil
			continue
		}
		id++
	}
}

// TestKillRestartPermanentSlot: the gateway dies with SIGKILL, rows are
// committed while it is down, it restarts on its permanent slot, and the
// client that reconnects within the rejoin grace gets every one of them.
func TestKillRestartPermanentSlot(t *testing.T) {
	db := harness.Database(t, &suite, itemsSchema)
	g := harness.Start(t, binary, db, "SLOT_NAME=durable", "REJOIN_GRACE_MS=4000")
	c := newCounter(t)
	c.connect(g.Port, "realtime:public:items")
	time.Sleep(4500 * time.Millisecond) // the first start holds routing for the grace too
	insertEach(t, db, 1, 50)
	c.waitFor(1, 50, 20*time.Second)
	if m := c.missing(1, 50); m != 0 {
		t.Fatalf("before the crash: %d of 50 missing", m)
	}

	g.Kill()
	c.wait()
	const outage = 500
	insertEach(t, db, 51, 50+outage)
	g.Restart()
	c.connect(g.Port, "realtime:public:items")
	c.waitFor(51, 50+outage, 30*time.Second)
	lost := c.missing(51, 50+outage)
	t.Logf("kill -9 and restart on a permanent slot: %d changes committed during the outage, %d lost, %d delivered twice", outage, lost, c.duplicates())
	if lost != 0 {
		t.Fatalf("%d of %d changes committed while the gateway was down were lost", lost, outage)
	}
}

// TestPostgresRestartUnderLoad: PostgreSQL restarts while rows are being
// committed; the socket stays open and every committed row arrives exactly
// once.
func TestPostgresRestartUnderLoad(t *testing.T) {
	db := harness.Database(t, &suite, itemsSchema)
	g := harness.Start(t, binary, db, "SLOT_NAME=restart", "REJOIN_GRACE_MS=0")
	c := newCounter(t)
	c.connect(g.Port, "realtime:public:items")
	const total = 1500
	done := make(chan struct{})
	go func() {
		defer close(done)
		insertEach(t, db, 1, total)
	}()
	c.waitFor(1, 300, 20*time.Second)
	suite.Cluster.Stop()
	if err := suite.Cluster.Start(t.Context()); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	<-done
	c.waitFor(1, total, 60*time.Second)
	lost, dup := c.missing(1, total), c.duplicates()
	t.Logf("PostgreSQL restarted under load: %d committed, %d lost, %d duplicated", total, lost, dup)
	if lost != 0 || dup != 0 {
		t.Fatalf("lost %d, duplicated %d", lost, dup)
	}
	select {
	case <-c.done:
		t.Fatal("the client socket was closed by the database restart")
	default:
	}
}

// TestLargeTransactionStreamed: one transaction of 200,000 rows reaches a
// subscriber whole, and the gateway's memory stays bounded.
func TestLargeTransactionStreamed(t *testing.T) {
	db := harness.Database(t, &suite, itemsSchema)
	// The client keeps reading, so it paces the stream; a generous grace
	// keeps a test client starved of CPU by a busy machine from being
	// taken for a slow consumer.
	g := harness.Start(t, binary, db, "LOG_LEVEL=info", "SLOW_CONSUMER_GRACE_MS=30000")
	c := newCounter(t)
	c.connect(g.Port, "realtime:public:items")
	time.Sleep(200 * time.Millisecond)
	const rows = 200_000
	start := time.Now()
	harness.Exec(t, db, fmt.Sprintf("INSERT INTO public.items (id, n) SELECT i, 0 FROM generate_series(1, %d) i", rows))
	c.waitFor(1, rows, 120*time.Second)
	took := time.Since(start)
	lost := c.missing(1, rows)
	rss := g.PeakRSS()
	t.Logf("200k-row transaction: %d delivered, %d lost, in %v (%.0f rows/s); gateway peak RSS %.1f MiB",
		c.total(), lost, took.Round(time.Millisecond), float64(rows)/took.Seconds(), float64(rss)/(1<<20))
	if lost != 0 {
		t.Fatalf("%d of %d rows lost", lost, rows)
	}
	// Buffering the transaction whole would take several hundred MiB.
	if rss > 256<<20 {
		t.Fatalf("peak RSS %d MiB: the transaction was not streamed", rss>>20)
	}
}

// TestSIGTERMShutdown: a clean stop closes sockets with 1001, drops the
// temporary slot and exits 0 promptly.
func TestSIGTERMShutdown(t *testing.T) {
	db := harness.Database(t, &suite, itemsSchema)
	g := harness.Start(t, binary, db)
	c := newCounter(t)
	c.connect(g.Port, "realtime:public:items")
	time.Sleep(200 * time.Millisecond)
	code, took := g.Stop()
	t.Logf("SIGTERM: exit %d after %v", code, took.Round(time.Millisecond))
	if code != 0 || took > 10*time.Second {
		t.Fatalf("exit code %d after %v, want 0 within 10s", code, took)
	}
	if err := c.wait(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("client saw %v, want close 1001", err)
	}
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// PostgreSQL drops a temporary slot when its walsender exits, which
	// may be just after the gateway has.
	var slots int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()").Scan(&slots); err != nil {
			t.Fatal(err)
		}
		if slots == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replication slots left 5 s after shutdown, want the temporary slot gone", slots)
		}
	}
}
