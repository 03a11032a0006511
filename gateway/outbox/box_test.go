package outbox

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/pgrealtime/realtime/gateway/wsconn"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a transport that records what reaches it, in order. With
// holdNext set, the next WriteNow takes nothing (a full kernel buffer);
// with holdAll, every WriteNow does; with gate set, WriteBatch waits for
// it (a client that stopped reading).
type recorder struct {
	mu       sync.Mutex
	calls    []string // "now" or "batch", per call that wrote frames
	got      []string
	closedAs websocket.StatusCode
	closed   bool
	holdNext atomic.Bool
	holdAll  bool
	gate     chan struct{}
}

func (r *recorder) record(kind string, batch []wsconn.Frame, abort *atomic.Bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, kind)
	for _, f := range batch {
		if abort.Load() {
			return
		}
		r.got = append(r.got, string(f.Pre)+string(f.Data)+string(f.Post))
	}
}

func (r *recorder) WriteBatch(batch []wsconn.Frame, abort *atomic.Bool) error {
	if r.gate != nil {
		<-r.gate
	}
	r.record("batch", batch, abort)
	return nil
}

func (r *recorder) WriteNow(batch []wsconn.Frame, abort *atomic.Bool) (bool, error) {
	if r.holdNext.Swap(false) || r.holdAll {
		// Held, as wsconn does: the next WriteBatch sends it first.
		r.record("held", batch, abort)
		return false, nil
	}
	r.record("now", batch, abort)
	return true, nil
}

func (r *recorder) Close(status websocket.StatusCode, _ string) {
	r.mu.Lock()
	r.closedAs = status
	r.mu.Unlock()
}

func (r *recorder) CloseNow() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

func (r *recorder) frames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func newBox(cfg *Config, out Transport) *Box {
	b := &Box{}
	b.Init(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), out)
	return b
}

func frame(i int) wsconn.Frame { return wsconn.Frame{Data: []byte(strconv.Itoa(i))} }

func wantFrames(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d frames, want %d: %v", len(got), n, got)
	}
	for i, g := range got {
		if g != strconv.Itoa(i) {
			t.Fatalf("frame %d is %q: %v", i, g, got)
		}
	}
}

// Frames queued by Enqueue, by the router and by a routed write that the
// socket did not take all arrive once each and in order, whoever writes
// them; a routed write that was held goes to a writer goroutine, whose
// batch write comes next.
func TestFramesKeepTheirOrderWhoeverWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &recorder{}
		b := newBox(&Config{Limit: 1 << 20, Grace: time.Second}, out)
		var r Router
		n := 0
		for pass := range 6 {
			if pass == 3 {
				out.holdNext.Store(true)
			}
			for range 3 {
				r.Deliver(b, frame(n))
				n++
			}
			r.Flush()
			b.Enqueue([]byte(strconv.Itoa(n)), false)
			n++
			synctest.Wait()
		}
		b.Finish(ClientClose)
		wantFrames(t, out.frames(), n)
		out.mu.Lock()
		defer out.mu.Unlock()
		for i, c := range out.calls {
			if c == "held" && (i+1 == len(out.calls) || out.calls[i+1] != "batch") {
				t.Fatalf("a held write was not followed by a writer's batch: %v", out.calls)
			}
		}
	})
}

// Two sockets, one of which stops reading: it is a minority, so routing
// lets it run over its limit rather than wait, and closes it as a slow
// consumer after the grace, while the other gets every frame. Routing never
// waits longer than MinorityWait per pass.
func TestLaggardIsClosedWithoutSettingThePace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &Config{Limit: 10, Grace: 500 * time.Millisecond}
		var waited time.Duration
		cfg.Waited = func(d time.Duration) { waited += d }
		fastOut, slowOut := &recorder{}, &recorder{holdAll: true, gate: make(chan struct{})}
		fast, slow := newBox(cfg, fastOut), newBox(cfg, slowOut)
		var r Router
		const passes = 100
		for i := range passes {
			began := time.Now()
			r.Deliver(fast, frame(i))
			r.Deliver(slow, frame(i))
			r.Flush()
			if d := time.Since(began); d > MinorityWait {
				t.Fatalf("pass %d waited %v", i, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(slowOut.gate)
		synctest.Wait()
		if slow.Finish(ClientClose) != SlowConsumer {
			t.Fatal("the laggard was not closed as a slow consumer")
		}
		if slowOut.closedAs != websocket.StatusPolicyViolation {
			t.Fatalf("laggard closed with %v", slowOut.closedAs)
		}
		fast.Finish(ClientClose)
		wantFrames(t, fastOut.frames(), passes)
		t.Logf("routing waited %v in all", waited)
	})
}

// When most sockets are behind (a bulk write), routing waits for them:
// a slow reader gets every frame instead of being dropped.
func TestMajorityBehindIsWaitedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &recorder{gate: make(chan struct{})}
		b := newBox(&Config{Limit: 3, Grace: 5 * time.Second}, out)
		// The client reads one batch every 100 ms.
		var reader sync.WaitGroup
		defer reader.Wait()
		reader.Go(func() {
			for {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-b.Context().Done():
					return
				}
				select {
				case out.gate <- struct{}{}:
				case <-b.Context().Done():
					return
				}
			}
		})
		var r Router
		const n = 20
		for i := range n {
			r.Deliver(b, frame(i))
			r.Flush()
		}
		for len(out.frames()) < n {
			time.Sleep(100 * time.Millisecond)
		}
		if got := b.Finish(ClientClose); got != ClientClose {
			t.Fatalf("closed as %v", got)
		}
		wantFrames(t, out.frames(), n)
	})
}

// On shutdown what is queued is written, then the close frame (1001);
// on any other close the queue is dropped.
func TestShutdownWritesTheQueueFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			r      Reason
			frames int
			status websocket.StatusCode
		}{{Shutdown, 5, websocket.StatusGoingAway}, {ServerClose, 0, websocket.StatusNormalClosure}} {
			out := &recorder{gate: make(chan struct{})}
			b := newBox(&Config{Limit: 1 << 20, Grace: time.Second}, out)
			b.Enqueue([]byte("x"), false) // the writer takes it and waits at the gate
			synctest.Wait()
			for i := range 5 {
				b.Enqueue([]byte(strconv.Itoa(i)), false)
			}
			b.Close(tc.r, "bye")
			close(out.gate)
			synctest.Wait()
			if b.Enqueue([]byte("late"), false) {
				t.Fatal("a closed box took a frame")
			}
			if got := b.Finish(ClientClose); got != tc.r {
				t.Fatalf("closed as %v, want %v", got, tc.r)
			}
			var got []string
			for _, f := range out.frames() {
				if f != "x" {
					got = append(got, f)
				}
			}
			wantFrames(t, got, tc.frames)
			if out.closedAs != tc.status || !out.closed {
				t.Fatalf("%v: close %v (closed %v)", tc.r, out.closedAs, out.closed)
			}
		}
	})
}

// A pass that fills many boxes is written by the helpers, in parts; every
// box gets its frames, and Stop waits for the helpers.
func TestHelpersWriteALargePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &Config{Limit: 1 << 20, Grace: time.Second}
		outs := make([]*recorder, 3*minShared)
		boxes := make([]*Box, len(outs))
		for i := range outs {
			outs[i] = &recorder{}
			boxes[i] = newBox(cfg, outs[i])
		}
		var r Router
		r.Start(2)
		for i := range 5 {
			for _, b := range boxes {
				r.Deliver(b, frame(i))
			}
			r.Flush()
		}
		r.Stop()
		synctest.Wait()
		for i, b := range boxes {
			b.Finish(ClientClose)
			wantFrames(t, outs[i].frames(), 5)
		}
	})
}
