package durability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgrealtime/realtime/test/harness"
)

// seqSchema is a table whose rows record where the WAL was when they were
// written: with one writer committing in id order, row n+1's lsn is at or
// past the end of row n's commit, so "the slot confirmed past a row nobody
// received" can be checked exactly.
const seqSchema = `
CREATE TABLE public.seq (id int8 PRIMARY KEY, lsn pg_lsn NOT NULL, pad text NOT NULL DEFAULT '');
ALTER TABLE public.seq REPLICA IDENTITY FULL;
CREATE PUBLICATION supabase_realtime FOR ALL TABLES;`

// writer commits one row per transaction into public.seq, ids 1, 2, ...,
// at about rate rows per second, riding out gateway and database restarts.
type writer struct {
	db   string
	pad  int
	last atomic.Int64 // highest id known to be committed
	stop chan struct{}
	done chan struct{}
}

func startWriter(db string, rate, pad int) *writer { return startWriterFrom(db, 1, rate, pad) }

// startWriterFrom writes ids first, first+1, ...
func startWriterFrom(db string, first int64, rate, pad int) *writer {
	w := &writer{db: db, pad: pad, stop: make(chan struct{}), done: make(chan struct{})}
	w.last.Store(first - 1)
	go w.run(first, rate)
	return w
}

func (w *writer) run(first int64, rate int) {
	defer close(w.done)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for id := first; ; {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		if conn == nil {
			c, err := pgx.Connect(context.Background(), w.db)
			if err != nil {
				continue
			}
			conn = c
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := conn.Exec(ctx, "INSERT INTO public.seq (id, lsn, pad) VALUES ($1, pg_current_wal_insert_lsn(), repeat('x', $2))", id, w.pad)
		cancel()
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "23505") {
			// Not known to be committed: retry the same id (a duplicate
			// key on the retry means it was).
			conn.Close(context.Background())
			conn = nil
			continue
		}
		w.last.Store(id)
		id++
	}
}

// finish stops the writer and returns the last committed id.
func (w *writer) finish() int64 {
	close(w.stop)
	<-w.done
	return w.last.Load()
}

// slotAhead reports whether the slot's confirmed position is past the row
// with the given id, that is past a row some client did not receive.
func slotAhead(t *testing.T, db, slot string, id int64) (ahead bool, confirmed, rowLSN string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(t.Context(), `
SELECT s.confirmed_flush_lsn > r.lsn, s.confirmed_flush_lsn::text, r.lsn::text
FROM pg_replication_slots s, public.seq r WHERE s.slot_name = $1 AND r.id = $2`, slot, id).Scan(&ahead, &confirmed, &rowLSN)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", "" // every committed row was received
	}
	if err != nil {
		t.Fatal(err)
	}
	return ahead, confirmed, rowLSN
}

// TestSIGTERMUnderWrites: a graceful restart, as every deploy does, while a
// writer commits about 300 rows a second and clients on every kind of
// subscription count them. Three restarts: nothing lost, nothing twice, and
// at each exit the slot is confirmed no further than what every client got.
func TestSIGTERMUnderWrites(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	const slot = "graceful"
	g := harness.Start(t, binary, db, "SLOT_NAME="+slot, "REJOIN_GRACE_MS=2000", "LOG_LEVEL=info")
	subs := []struct {
		topic   string
		payload map[string]any
	}{
		{"realtime:public:seq", map[string]any{}},
		{"realtime:*", map[string]any{}},
		{"realtime:public", map[string]any{}},
		{"realtime:board", changesConfig("seq")},
	}
	clients := make([]*counter, len(subs))
	for i := range clients {
		clients[i] = newCounter(t)
	}
	connectAll := func() {
		for i, s := range subs {
			clients[i].connectWith(g.Port, s.topic, s.payload)
		}
	}
	connectAll()
	time.Sleep(2500 * time.Millisecond) // the first start holds routing for the grace too
	w := startWriter(db, 300, 0)
	const restarts = 3
	var worst time.Duration
	for r := 1; r <= restarts; r++ {
		// After the rejoin grace, so that each round routes under writes.
		time.Sleep(3500 * time.Millisecond)
		code, took := g.Stop()
		worst = max(worst, took)
		for i, c := range clients {
			if err := c.wait(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("restart %d: client %s saw %v, want close 1001", r, subs[i].topic, err)
			}
		}
		delivered := clients[0].contiguous()
		for _, c := range clients[1:] {
			delivered = min(delivered, c.contiguous())
		}
		ahead, confirmed, rowLSN := slotAhead(t, db, slot, delivered+1)
		t.Logf("restart %d: exit %d after %v; %d rows committed so far, every client has 1..%d; slot confirmed %s, first row not received written at %s",
			r, code, took.Round(time.Millisecond), w.last.Load(), delivered, confirmed, rowLSN)
		if code != 0 {
			t.Errorf("restart %d: exit code %d", r, code)
		}
		if ahead {
			t.Errorf("restart %d: slot confirmed %s, past row %d (written at %s) that a client never received", r, confirmed, delivered+1, rowLSN)
		}
		g.Restart()
		connectAll()
	}
	time.Sleep(time.Second)
	last := w.finish()
	for i, c := range clients {
		c.waitFor(1, last, 30*time.Second)
		lost, dup := c.missing(1, last), c.duplicates()
		t.Logf("%s: %d rows committed over %d graceful restarts, %d lost, %d delivered twice", subs[i].topic, last, restarts, lost, dup)
		if lost != 0 || dup != 0 {
			t.Errorf("%s: %d of %d lost, %d duplicated", subs[i].topic, lost, last, dup)
		}
	}
	t.Logf("slowest shutdown under writes: %v", worst.Round(time.Millisecond))
}

// TestSIGTERMWithStuckClient: a client that stopped reading cannot hold a
// shutdown past SHUTDOWN_DRAIN_MS, and costs the others nothing.
func TestSIGTERMWithStuckClient(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	const drain = 1500 * time.Millisecond
	// A queue large enough that the stuck socket is still open (not yet a
	// slow consumer) when the signal comes.
	g := harness.Start(t, binary, db, "SLOT_NAME=stuck", "REJOIN_GRACE_MS=2000", "LOG_LEVEL=info",
		fmt.Sprintf("SHUTDOWN_DRAIN_MS=%d", drain.Milliseconds()), "OUTBOUND_QUEUE_BYTES=268435456", "SLOW_CONSUMER_GRACE_MS=60000")
	reader := newCounter(t)
	reader.connect(g.Port, "realtime:public:seq")
	stuck := dialStuck(t, g.Port, "realtime:public:seq")
	defer stuck.CloseNow()
	time.Sleep(2500 * time.Millisecond)
	// 4 KB rows: within seconds more than the kernel's socket buffers hold.
	w := startWriter(db, 300, 4000)
	time.Sleep(4 * time.Second)
	code, took := g.Stop()
	if err := reader.wait(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("reading client saw %v, want close 1001", err)
	}
	if !strings.Contains(g.Logs.String(), "within SHUTDOWN_DRAIN_MS") {
		t.Fatalf("the stuck client's socket drained: the test did not exercise a stuck shutdown")
	}
	t.Logf("SIGTERM with a client that stopped reading: exit %d after %v (SHUTDOWN_DRAIN_MS=%v)", code, took.Round(time.Millisecond), drain)
	if code != 0 || took > drain+2*time.Second {
		t.Errorf("exit %d after %v, want 0 within about SHUTDOWN_DRAIN_MS", code, took)
	}
	g.Restart()
	reader.connect(g.Port, "realtime:public:seq")
	time.Sleep(time.Second)
	last := w.finish()
	reader.waitFor(1, last, 30*time.Second)
	lost, dup := reader.missing(1, last), reader.duplicates()
	t.Logf("the reading client: %d rows committed, %d lost, %d delivered twice", last, lost, dup)
	if lost != 0 || dup != 0 {
		t.Errorf("reading client: %d of %d lost, %d duplicated", lost, last, dup)
	}
}

// dialStuck joins topic and never reads.
func dialStuck(t *testing.T, port int, topic string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), fmt.Sprintf("ws://127.0.0.1:%d/socket/websocket?vsn=1.0.0", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	join := fmt.Sprintf(`{"topic":%q,"event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`, topic)
	if err := ws.Write(t.Context(), websocket.MessageText, []byte(join)); err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestSlowConsumerToldWhy: a socket dropped as a slow consumer gets close
// code 1008 with the reason right after what the kernel already held, and
// the gateway says so once, at warning level.
func TestSlowConsumerToldWhy(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	g := harness.Start(t, binary, db, "LOG_LEVEL=info", "OUTBOUND_QUEUE_BYTES=65536", "SLOW_CONSUMER_GRACE_MS=300")
	fast := newCounter(t)
	fast.connect(g.Port, "realtime:public:seq")
	slow := dialStuck(t, g.Port, "realtime:public:seq")
	defer slow.CloseNow()
	time.Sleep(300 * time.Millisecond)
	w := startWriter(db, 300, 2000)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(g.Logs.String(), "closing slow consumer") {
		if time.Now().After(deadline) {
			t.Fatal("the stuck socket was never closed as a slow consumer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	began := time.Now()
	frames := 0
	var err error
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, _, err = slow.Read(ctx)
		cancel()
		if err != nil {
			break
		}
		frames++
	}
	last := w.finish()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "slow consumer") {
		t.Fatalf("slow client saw %v, want close 1008 with a slow consumer reason", err)
	}
	t.Logf("slow consumer: close %d %q after %d frames already in the socket buffers, read in %v", ce.Code, ce.Reason, frames, time.Since(began).Round(time.Millisecond))
	var warns int
	for _, line := range strings.Split(g.Logs.String(), "\n") {
		if strings.Contains(line, "closing slow consumer") {
			warns++
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "conn_id=") || !strings.Contains(line, "queued_bytes=") {
				t.Errorf("slow consumer log line lacks level, socket or backlog: %s", line)
			}
		}
	}
	if warns != 1 {
		t.Errorf("%d slow consumer log lines, want 1", warns)
	}
	fast.waitFor(1, last, 30*time.Second)
	if lost := fast.missing(1, last); lost != 0 {
		t.Errorf("the fast client lost %d of %d rows", lost, last)
	}
}

// TestKillUnderWrites: SIGKILL while a writer commits about 300 rows a
// second. Nothing may be lost; what comes twice is what was delivered but
// not yet confirmed to PostgreSQL when the process died, which the stream
// keeps to about a tenth of a second of writes.
func TestKillUnderWrites(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	g := harness.Start(t, binary, db, "SLOT_NAME=killed", "REJOIN_GRACE_MS=2000", "LOG_LEVEL=info")
	c := newCounter(t)
	c.connect(g.Port, "realtime:public:seq")
	time.Sleep(2500 * time.Millisecond)
	w := startWriter(db, 300, 0)
	const kills = 3
	for r := 1; r <= kills; r++ {
		time.Sleep(3500 * time.Millisecond)
		g.Kill()
		c.wait()
		g.Restart()
		c.connect(g.Port, "realtime:public:seq")
	}
	time.Sleep(3 * time.Second)
	last := w.finish()
	c.waitFor(1, last, 30*time.Second)
	lost, dup := c.missing(1, last), c.duplicates()
	t.Logf("SIGKILL under 300 rows/s, %d times: %d rows committed, %d lost, %d delivered twice (%.0f per crash)",
		kills, last, lost, dup, float64(dup)/kills)
	if lost != 0 {
		t.Errorf("%d of %d rows lost", lost, last)
	}
	// A crash replays what was delivered after the last confirmation:
	// confirmed every 100 ms, that is about 30 rows here; a second of
	// writes (300) means the position is not kept up to date.
	if dup > kills*300 {
		t.Errorf("%d rows delivered twice over %d crashes: the delivered position is not confirmed often", dup, kills)
	}
}

// health fetches the gateway's /health.
func health(t *testing.T, port int) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestPublicationRecreated: DROP PUBLICATION, writes, CREATE PUBLICATION
// while the gateway streams from a permanent slot. PostgreSQL 15 cannot
// decode past the drop with that slot. Clients of both protocols are told
// that changes are not flowing, and /health and the log say why and how to
// fix it.
func TestPublicationRecreated(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	g := harness.Start(t, binary, db, "SLOT_NAME=pubstuck", "REJOIN_GRACE_MS=0", "LOG_LEVEL=info")
	clients, _ := recreatePublicationUnderWrites(t, db, g)
	for _, c := range clients {
		t.Logf("client told: %s", c.waitNotice("not flowing", 30*time.Second))
	}
	code, body := health(t, g.Port)
	stalled, _ := body["stalled"].(string)
	t.Logf("/health: %d, stalled: %s", code, stalled)
	if code != http.StatusServiceUnavailable || !strings.Contains(stalled, "RECREATE_STUCK_SLOT") || !strings.Contains(stalled, "pg_drop_replication_slot") {
		t.Errorf("/health = %d %v, want 503 naming the cause and the fix", code, body)
	}
	if !strings.Contains(g.Logs.String(), "dropped (and perhaps created again)") {
		t.Errorf("the log does not say the publication was dropped and re-created")
	}
}

// TestPublicationRecreatedRecovers: the same with RECREATE_STUCK_SLOT=true:
// the gateway recreates the slot itself, and its clients hear that changes
// stopped, what was skipped, and that they flow again; then they get every
// row committed after.
func TestPublicationRecreatedRecovers(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	g := harness.Start(t, binary, db, "SLOT_NAME=pubrecover", "REJOIN_GRACE_MS=0", "LOG_LEVEL=info", "RECREATE_STUCK_SLOT=true")
	clients, written := recreatePublicationUnderWrites(t, db, g)
	for _, c := range clients {
		t.Logf("client told: %s", c.waitNotice("are skipped", 30*time.Second))
		t.Logf("client told: %s", c.waitNotice("flowing again", 30*time.Second))
	}
	before := clients[0].contiguous()
	from := written + 1
	w := startWriterFrom(db, from, 100, 0)
	time.Sleep(time.Second)
	last := w.finish()
	for _, c := range clients {
		c.waitFor(from, last, 20*time.Second)
		if m := c.missing(from, last); m != 0 {
			t.Errorf("after the slot was recreated: %d of rows %d..%d missing", m, from, last)
		}
	}
	if code, body := health(t, g.Port); code != http.StatusOK {
		t.Errorf("/health after recovery = %d %v", code, body)
	}
	t.Logf("rows 1..%d delivered before the drop, %d..%d after the slot was recreated; the %d committed in between were skipped, and the clients told so",
		before, from, last, written-before)
}

// recreatePublicationUnderWrites joins a 1.x topic client and a
// postgres_changes client, then drops and re-creates the publication while
// a writer commits. It returns the clients and the last id written.
func recreatePublicationUnderWrites(t *testing.T, db string, g *harness.Gateway) ([]*counter, int64) {
	topic, changes := newCounter(t), newCounter(t)
	topic.connect(g.Port, "realtime:public:seq")
	changes.connectWith(g.Port, "realtime:board", changesConfig("seq"))
	time.Sleep(300 * time.Millisecond)
	w := startWriter(db, 100, 0)
	time.Sleep(time.Second)
	harness.Exec(t, db, "DROP PUBLICATION supabase_realtime")
	time.Sleep(500 * time.Millisecond)
	harness.Exec(t, db, "CREATE PUBLICATION supabase_realtime FOR ALL TABLES")
	time.Sleep(300 * time.Millisecond)
	return []*counter{topic, changes}, w.finish()
}

// TestSlotDropped: the permanent slot is dropped from outside while the
// gateway streams. It creates the slot again, its clients are told that
// changes were skipped, and rows committed after reach them.
func TestSlotDropped(t *testing.T) {
	db := harness.Database(t, &suite, seqSchema)
	g := harness.Start(t, binary, db, "SLOT_NAME=dropped", "REJOIN_GRACE_MS=0", "LOG_LEVEL=info")
	topic, changes := newCounter(t), newCounter(t)
	topic.connect(g.Port, "realtime:public:seq")
	changes.connectWith(g.Port, "realtime:board", changesConfig("seq"))
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The gateway reconnects within a quarter second: terminate its
		// walsender and drop the slot before it does.
		_, err := conn.Exec(t.Context(), `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'dropped' AND active_pid IS NOT NULL`)
		if err == nil {
			_, err = conn.Exec(t.Context(), `SELECT pg_drop_replication_slot('dropped')`)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not drop the slot: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []*counter{topic, changes} {
		t.Logf("client told: %s", c.waitNotice("was gone", 30*time.Second))
	}
	w := startWriter(db, 100, 0)
	time.Sleep(time.Second)
	last := w.finish()
	for _, c := range []*counter{topic, changes} {
		c.waitFor(1, last, 20*time.Second)
		if m := c.missing(1, last); m != 0 {
			t.Errorf("%d of %d rows committed after the slot came back are missing", m, last)
		}
	}
}
