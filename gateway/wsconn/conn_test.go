package wsconn

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pair is a server-side Conn accepted over real loopback TCP and the
// coder/websocket client at the other end.
type pair struct {
	srv    *Conn
	client *websocket.Conn
}

// dial accepts one socket with o and returns both ends; they are closed
// when the test ends.
func dial(t testing.TB, o Options) pair {
	t.Helper()
	accepted := make(chan *Conn, 1)
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, o)
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- c
		<-release // the handler owns nothing once it returns; the test does
	}))
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	p := pair{srv: <-accepted, client: ws}
	t.Cleanup(func() {
		ws.CloseNow()
		p.srv.CloseNow()
		close(release)
		hs.Close()
	})
	return p
}

// Data frames are framed here, not by coder/websocket: every length form
// (7, 16 and 64 bits), text and binary, enveloped or not, reaches a real
// client intact, through WriteBatch and WriteNow.
func TestFramesOfEveryLengthReachTheClient(t *testing.T) {
	p := dial(t, Options{WriteTimeout: 5 * time.Second})
	var abort atomic.Bool
	for i, n := range []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 300_000} {
		data := bytes.Repeat([]byte{byte('a' + i)}, n)
		f := Frame{Data: data, Binary: i%2 == 1}
		want := data
		if i%3 == 0 {
			f.Pre, f.Post = []byte(`["`), []byte(`"]`)
			want = append(append([]byte(`["`), data...), `"]`...)
		}
		var err error
		if i%2 == 0 {
			err = p.srv.WriteBatch([]Frame{f}, &abort)
		} else {
			var done bool
			if done, err = p.srv.WriteNow([]Frame{f}, &abort); err == nil && !done {
				err = p.srv.WriteBatch(nil, &abort) // what was held
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		typ, got, err := p.client.Read(t.Context())
		wantTyp := websocket.MessageText
		if f.Binary {
			wantTyp = websocket.MessageBinary
		}
		if err != nil || typ != wantTyp || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: got %v, %d bytes, %v", n, typ, len(got), err)
		}
	}
}

// A client that does not read makes WriteNow hold what the kernel would
// not take, often part of a frame. It goes out first with the next
// WriteBatch, and every frame arrives whole and in order.
func TestWriteNowHoldsWhatTheClientDidNotTake(t *testing.T) {
	p := dial(t, Options{WriteTimeout: 10 * time.Second})
	var abort atomic.Bool
	big := strings.Repeat("x", 64<<10)
	sent := 0
	for held := false; !held; sent++ {
		if sent > 2000 {
			t.Fatal("the kernel took 128 MB from a client that reads nothing")
		}
		done, err := p.srv.WriteNow([]Frame{{Data: []byte(strconv.Itoa(sent) + big)}}, &abort)
		if err != nil {
			t.Fatal(err)
		}
		held = !done
	}
	// Later frames go behind the held bytes, while the client reads.
	wrote := make(chan error, 1)
	go func() {
		wrote <- p.srv.WriteBatch([]Frame{{Data: []byte(strconv.Itoa(sent) + big)}, {Data: []byte(strconv.Itoa(sent+1) + big)}}, &abort)
	}()
	for i := range sent + 2 {
		_, got, err := p.client.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.Itoa(i) + big; string(got) != want {
			t.Fatalf("frame %d: got %.20q (%d bytes)", i, got, len(got))
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// The write deadline moves with the writes: after an idle spell longer
// than WriteTimeout a write still goes (a deadline in the past would fail
// even a write that does not wait), and one the client does not read
// fails within it.
func TestWriteDeadlineFollowsTheWrites(t *testing.T) {
	const timeout = 100 * time.Millisecond
	p := dial(t, Options{WriteTimeout: timeout})
	var abort atomic.Bool
	for range 2 {
		time.Sleep(2 * timeout)
		if done, err := p.srv.WriteNow([]Frame{{Data: []byte("now")}}, &abort); err != nil || !done {
			t.Fatalf("WriteNow after an idle spell: %v %v", done, err)
		}
		time.Sleep(2 * timeout)
		if err := p.srv.WriteBatch([]Frame{{Data: []byte("batch")}}, &abort); err != nil {
			t.Fatalf("WriteBatch after an idle spell: %v", err)
		}
		for _, want := range []string{"now", "batch"} {
			if _, got, err := p.client.Read(t.Context()); err != nil || string(got) != want {
				t.Fatalf("got %q %v, want %q", got, err, want)
			}
		}
	}
	big := []Frame{{Data: make([]byte, 1<<20)}}
	began := time.Now()
	var err error
	for err == nil && time.Since(began) < 10*time.Second {
		err = p.srv.WriteBatch(big, &abort)
	}
	if err == nil {
		t.Fatal("writes to a client that reads nothing never failed")
	}
}

// Wait times out at the idle limit, or returns once the client sent
// something, which ReadFrame reads; Interrupt ends a Wait at once. (The
// gateway's TestFramesArrivingTogetherAreAllRead covers Buffered.)
func TestWaitReadFrameAndInterrupt(t *testing.T) {
	p := dial(t, Options{})
	// The first Wait returns at once: what came with the upgrade may be
	// buffered where it cannot see it.
	if _, err := p.srv.Wait(t.Context(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, _, timedOut, err := p.srv.ReadFrame(); !timedOut || err == nil {
		t.Fatalf("idle read: timedOut=%v err=%v", timedOut, err)
	}
	for _, m := range []string{"one", "two"} {
		if err := p.client.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.srv.Wait(t.Context(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, data, _, err := p.srv.ReadFrame(); err != nil || string(data) != "one" {
		t.Fatalf("read: %q %v", data, err)
	}
	if _, err := p.srv.Wait(t.Context(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, data, _, err := p.srv.ReadFrame(); err != nil || string(data) != "two" {
		t.Fatalf("read: %q %v", data, err)
	}
	if timedOut, err := p.srv.Wait(t.Context(), 50*time.Millisecond); !timedOut || err == nil {
		t.Fatalf("idle wait: timedOut=%v err=%v", timedOut, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
		p.srv.Interrupt()
	}()
	if _, err := p.srv.Wait(ctx, time.Minute); err == nil || ctx.Err() == nil {
		t.Fatalf("interrupted wait: %v", err)
	}
}

// WriteNow writes to the descriptor itself, and a close waits for such a
// write and stops the next: a closed descriptor's number may already be
// another client's socket.
func TestWriteNowStopsAtClose(t *testing.T) {
	p := dial(t, Options{WriteTimeout: time.Second})
	if p.srv.cork.fd < 0 {
		t.Fatal("a TCP socket has no descriptor to write to")
	}
	var abort atomic.Bool
	wrote := make(chan error, 1)
	go func() {
		for {
			if _, err := p.srv.WriteNow([]Frame{{Data: []byte("x")}}, &abort); err != nil {
				wrote <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	p.srv.CloseNow()
	select {
	case err := <-wrote:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WriteNow after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteNow went on after the close")
	}
}
