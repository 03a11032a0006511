package replication

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/test/localpg/pgtest"
)

var suite pgtest.Suite

// TestMain runs the tests on the package's PostgreSQL; pgtest.Main fails
// the run when a test left a goroutine behind.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &suite)) }

// testDB is a fresh database on the shared cluster with a connection to it.
type testDB struct {
	url  string
	conn *pgx.Conn
}

func newDB(t *testing.T, setup ...string) testDB {
	t.Helper()
	db := newDBAt(t, suite.Database(t))
	for _, q := range setup {
		db.exec(t, q)
	}
	return db
}

// newDBAt connects to an existing database.
func newDBAt(t *testing.T, url string) testDB {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return testDB{url: url, conn: conn}
}

func (db testDB) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := db.conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// slotExists reports whether a slot of that name is in pg_replication_slots.
func (db testDB) slotExists(t testing.TB, name string) bool {
	t.Helper()
	var n int
	if err := db.conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&n); err != nil {
		t.Fatalf("read pg_replication_slots: %v", err)
	}
	return n > 0
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runner is a Stream running in the background for one test.
type runner struct {
	t      testing.TB
	s      *Stream
	out    chan Batch
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs a Stream on db and waits until it is live.
func start(t testing.TB, cfg Config, outCap int) *runner {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{t: t, s: s, out: make(chan Batch, outCap), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, r.out) }()
	t.Cleanup(r.stop)
	liveCtx, cancelLive := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelLive()
	if err := s.WaitLive(liveCtx); err != nil {
		t.Fatalf("stream not live: %v (last error: %s)", err, s.Status().LastError)
	}
	return r
}

// stop cancels Run and waits for it to return.
func (r *runner) stop() {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				r.t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			r.t.Errorf("Run did not return within 30s of cancel")
		}
	})
}

// next returns the next batch.
func (r *runner) next(within time.Duration) Batch {
	r.t.Helper()
	select {
	case b := <-r.out:
		return b
	case <-time.After(within):
		r.t.Fatalf("no batch within %v (status %+v)", within, r.s.Status())
		return Batch{}
	}
}

// tx collects the batches of one transaction and returns its changes and
// its commit batch.
// tx collects the next transaction. The returned commit batch carries the
// Gap and Notice of any batch before it, a notice-only one included: a new
// slot announces its gap as soon as it streams.
func (r *runner) tx() ([]Change, Batch) {
	r.t.Helper()
	var changes []Change
	var gap bool
	var notice *Notice
	for {
		b := r.next(20 * time.Second)
		changes = append(changes, b.Changes...)
		gap = gap || b.Gap
		if b.Notice != nil {
			notice = b.Notice
		}
		if b.Commit {
			b.Gap = gap
			if b.Notice == nil {
				b.Notice = notice
			}
			return changes, b
		}
	}
}

// quiet asserts that no batch arrives for d.
func (r *runner) quiet(d time.Duration) {
	r.t.Helper()
	select {
	case b := <-r.out:
		r.t.Fatalf("unexpected batch: %+v", b)
	case <-time.After(d):
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// texts renders a row as its text values, "<null>" and "<unchanged>" for
// the other states, for compact comparisons.
func texts(row []Value) []string {
	if row == nil {
		return nil
	}
	out := make([]string, len(row))
	for i, v := range row {
		switch v.State {
		case Null:
			out[i] = "<null>"
		case Unchanged:
			out[i] = "<unchanged>"
		default:
			out[i] = v.Text
		}
	}
	return out
}

func lsnOf(t testing.TB, db testDB, sql string) pglogrepl.LSN {
	t.Helper()
	var s string
	if err := db.conn.QueryRow(t.Context(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}
