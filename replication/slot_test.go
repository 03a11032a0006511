package replication

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/test/localpg"
)

// TestStreamPostgresRestart crashes and then restarts the shared cluster
// under a running stream (not parallel, so no other test runs meanwhile):
// the stream reconnects by itself, and nothing arrives twice or goes missing.
func TestStreamPostgresRestart(t *testing.T) {
	db := newDB(t, "CREATE TABLE t (id int PRIMARY KEY)", pubAll)
	t.Cleanup(func() { suite.Cluster.Start(context.Background()) }) // whatever happens below
	r := start(t, Config{ConnString: db.url, SlotName: "restart_slot", StatusInterval: 200 * time.Millisecond}, 64)
	seen := map[string]int{}
	var commits []Batch
	insertAndTake := func(from, to int) {
		for i := from; i <= to; i++ {
			db.exec(t, "INSERT INTO t VALUES ($1)", i)
		}
		for range to - from + 1 {
			changes, c := r.tx()
			for _, ch := range changes {
				seen[ch.New[0].Text]++
			}
			commits = append(commits, c)
		}
	}
	restart := func(stop func()) {
		t.Helper()
		before := r.s.Status().Reconnects
		db.conn.Close(t.Context())
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := suite.Cluster.Start(ctx); err != nil {
			t.Fatalf("restart PostgreSQL: %v", err)
		}
		db = newDBAt(t, db.url)
		eventually(t, time.Minute, "the stream to reconnect", func() bool {
			st := r.s.Status()
			return st.Live && st.Reconnects > before
		})
	}

	// A crash while the consumer has confirmed only the first two
	// transactions: the slot would send rows 3-5 again.
	insertAndTake(1, 5)
	r.s.Confirm(commits[1].CommitLSN)
	eventually(t, 10*time.Second, "the confirmation to reach PostgreSQL", func() bool {
		return r.s.Status().ConfirmedLSN == commits[1].CommitLSN
	})
	restart(suite.Cluster.Kill)
	insertAndTake(6, 8)

	// A clean restart. A fast shutdown waits until the stream has confirmed
	// all WAL sent to it, which it does once the consumer confirmed all.
	r.s.Confirm(commits[len(commits)-1].CommitLSN)
	restart(suite.Cluster.Stop)
	insertAndTake(9, 10)

	r.quiet(time.Second)
	for i := 1; i <= 10; i++ {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("row %d arrived %d times, want once", i, n)
		}
	}
	if len(seen) != 10 {
		t.Errorf("rows seen: %v", seen)
	}
	if st := r.s.Status(); st.Reconnects < 2 || st.LastError != "" || st.Slot != "restart_slot" {
		t.Errorf("Status() = %+v, want Reconnects ≥ 2 and LastError cleared", st)
	}
}

// TestStreamSlotInUse runs two streams on one permanent slot: the second
// says why it cannot start, and the first keeps streaming.
func TestStreamSlotInUse(t *testing.T) {
	t.Parallel()
	db := newDB(t, "CREATE TABLE t (id int PRIMARY KEY)", pubAll)
	start(t, Config{ConnString: db.url, SlotName: "shared_slot"}, 16)
	s2, err := New(Config{ConnString: db.url, SlotName: "shared_slot", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s2.Run(ctx, make(chan Batch)) }()
	defer func() { cancel(); <-done }()
	eventually(t, 20*time.Second, "an error on the second stream", func() bool { return s2.Status().LastError != "" })
	if msg := s2.Status().LastError; !strings.Contains(msg, `replication slot "shared_slot" is active in another connection`) {
		t.Errorf("LastError = %q", msg)
	}
}

// TestStreamLagDropsSlotAtConnect: a permanent slot over MaxLagMB at
// connect is dropped loudly and recreated, and the next batch has Gap.
func TestStreamLagDropsSlotAtConnect(t *testing.T) {
	t.Parallel()
	db := newDB(t, "CREATE TABLE t (id int PRIMARY KEY)", "CREATE TABLE filler (id int, pad text)",
		"CREATE PUBLICATION supabase_realtime FOR TABLE t")
	cfg := Config{ConnString: db.url, SlotName: "laggy", MaxLagMB: 1}
	r := start(t, cfg, 16)
	r.stop()
	db.exec(t, "INSERT INTO t VALUES (1)") // retained by the slot, then discarded
	db.exec(t, "INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 4000) g")

	var logs logBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r = start(t, cfg, 16)
	if st := r.s.Status(); st.LagBytes > 1_000_000 {
		t.Errorf("LagBytes = %d after recreating the slot", st.LagBytes)
	}
	db.exec(t, "INSERT INTO t VALUES (2)")
	changes, c := r.tx()
	if len(changes) != 1 || changes[0].New[0].Text != "2" || !c.Gap {
		t.Errorf("first transaction after the drop: %d changes, Gap %v; want row 2 only, with Gap", len(changes), c.Gap)
	}
	if c.Notice == nil || !c.Notice.Skipped || !strings.Contains(c.Notice.Message, "MAX_REPLICATION_LAG_MB") {
		t.Errorf("the clients are not told why changes were skipped: %+v", c.Notice)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "slot=laggy", "limit_mb=1", "changes retained in the slot were discarded"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not contain %q:\n%s", want, out)
		}
	}
}

// TestStreamBackpressure stalls the consumer for longer than the server's
// wal_sender_timeout: status updates sent while waiting keep the
// connection, so nothing is lost and no reconnect happens.
func TestStreamBackpressure(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "wal_sender_timeout = '2s'")
	db := newDBAt(t, createDB(t, c))
	db.exec(t, "CREATE TABLE t (id int PRIMARY KEY)")
	db.exec(t, pubAll)
	r := start(t, Config{ConnString: db.url, StatusInterval: 500 * time.Millisecond, BatchSize: 2}, 0)
	db.exec(t, "INSERT INTO t SELECT generate_series(1, 50)")
	stall := time.NewTimer(5 * time.Second) // the consumer is away: a stall, not a poll
	<-stall.C
	total := 0
	for total < 50 {
		b := r.next(10 * time.Second)
		total += len(b.Changes)
	}
	if st := r.s.Status(); st.Reconnects != 0 || !st.Live {
		t.Errorf("Status() = %+v, want no reconnect", st)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	t.Run("wal_level", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t, "wal_level = replica")
		err := Check(t.Context(), c.ConnString("postgres"), nil)
		if !errors.Is(err, ErrWALLevel) || !strings.Contains(err.Error(), `wal_level is "replica"`) ||
			!strings.Contains(err.Error(), "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL") {
			t.Errorf("Check = %v", err)
		}
	})
	t.Run("publication", func(t *testing.T) {
		t.Parallel()
		db := newDB(t, "CREATE PUBLICATION present FOR ALL TABLES")
		err := Check(t.Context(), db.url, []string{"supabase_realtime", "present", "Other"})
		if !errors.Is(err, ErrNoPublication) {
			t.Fatalf("Check = %v, want ErrNoPublication", err)
		}
		for _, want := range []string{
			`publication "supabase_realtime" does not exist: run CREATE PUBLICATION supabase_realtime FOR ALL TABLES;`,
			`publication "Other" does not exist: run CREATE PUBLICATION "Other" FOR ALL TABLES;`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Check error %q does not contain %q", err, want)
			}
		}
		if strings.Contains(err.Error(), `"present"`) {
			t.Errorf("Check reports an existing publication: %v", err)
		}
		if err := Check(t.Context(), db.url, []string{"present"}); err != nil {
			t.Errorf("Check(present) = %v", err)
		}
	})
	t.Run("role", func(t *testing.T) {
		t.Parallel()
		db := newDB(t, pubAll)
		cfg, err := pgx.ParseConfig(db.url)
		if err != nil {
			t.Fatal(err)
		}
		role := "norepl_" + cfg.Database // roles are per cluster: make it unique
		db.exec(t, "CREATE ROLE "+role+" LOGIN")
		url := strings.Replace(db.url, "postgres@", role+"@", 1)
		err = Check(t.Context(), url, nil)
		if !errors.Is(err, ErrNoReplication) || !strings.Contains(err.Error(), "ALTER ROLE "+role+" WITH REPLICATION;") {
			t.Errorf("Check = %v", err)
		}
	})
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		s, err := New(Config{ConnString: db.url, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, make(chan Batch)) }()
		defer func() { cancel(); <-done }()
		eventually(t, 20*time.Second, "Run to report the missing publication", func() bool {
			return strings.Contains(s.Status().LastError, "CREATE PUBLICATION supabase_realtime FOR ALL TABLES;")
		})
		if st := s.Status(); st.Live {
			t.Errorf("Status().Live = true without a publication")
		}
	})
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{SlotName: "bad-name!", BatchSize: -1, StatusInterval: -time.Second, MaxLagMB: -1})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("New = %v, want a *ConfigError", err)
	}
	for _, field := range []string{"ConnString", "SlotName", "BatchSize", "StatusInterval", "MaxLagMB"} {
		if !strings.Contains(err.Error(), "replication config "+field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	s, err := New(Config{ConnString: "postgres://localhost/db", SlotName: "My_Slot"})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.SlotName != "my_slot" || s.cfg.TemporarySlot || s.cfg.BatchSize != DefaultBatchSize ||
		s.cfg.StatusInterval != DefaultStatusInterval || s.cfg.Publications[0] != DefaultPublication || s.cfg.Logger == nil {
		t.Errorf("defaults not filled: %+v", s.cfg)
	}
	if got := publicationNames([]string{"a", `b"c`, "it's"}); got != `'"a","b""c","it''s"'` {
		t.Errorf("publicationNames = %s", got)
	}
}

// startCluster starts a separate cluster with extra settings, for tests that
// need a server configured differently from the shared one.
func startCluster(t *testing.T, settings ...string) *localpg.Cluster {
	t.Helper()
	if suite.Cluster == nil {
		t.Skip("PostgreSQL is not available")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localpg.Start(ctx, settings...)
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func createDB(t *testing.T, c *localpg.Cluster) string {
	t.Helper()
	name, err := c.CreateDatabase(t.Context(), "db")
	if err != nil {
		t.Fatal(err)
	}
	return c.ConnString(name)
}
