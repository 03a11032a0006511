package gateway

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkWriteBatch writes batches of 64 change-sized frames to a real
// loopback socket that a client drains, framed by us (framed, the socket
// transport) and, as before, through coder/websocket's Write between cork
// and uncork (coder, coderTransport). Compare the two in one run.
func BenchmarkWriteBatch(b *testing.B) {
	ts := newTestServer(b, nil)
	ws, _, err := websocket.Dial(b.Context(), ts.url+"/socket/websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	go func() {
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	var sc *conn
	for sc == nil {
		ts.srv.mu.Lock()
		for c := range ts.srv.conns {
			sc = c
		}
		ts.srv.mu.Unlock()
	}
	frame := make([]byte, 300)
	for i := range frame {
		frame[i] = 'x'
	}
	batch := make([]outFrame, 64)
	fill := func() {
		for i := range batch {
			batch[i] = outFrame{data: frame}
		}
	}
	b.Run("framed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fill()
			if err := sc.sock.writeBatch(batch, &sc.abort); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/frame")
	})
	b.Run("coder", func(b *testing.B) {
		coder := &coderTransport{socket: sc.sock, timeout: ts.srv.cfg.WriteTimeout}
		b.ReportAllocs()
		for b.Loop() {
			fill()
			if err := coder.writeBatch(batch, &sc.abort); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/frame")
	})
}

// coderTransport writes each data frame with coder/websocket's Write,
// between cork and uncork: how sockets wrote before corkedConn framed
// them, kept as the benchmark's yardstick.
type coderTransport struct {
	*socket
	timeout time.Duration
}

func (t *coderTransport) writeBatch(batch []outFrame, abort *atomic.Bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	t.cork.cork()
	var err error
	for _, f := range batch {
		if err != nil || abort.Load() {
			break
		}
		typ := websocket.MessageText
		if f.binary {
			typ = websocket.MessageBinary
		}
		data := f.data
		if f.pre != nil || f.post != nil {
			data = slices.Concat(f.pre, f.data, f.post)
		}
		err = t.ws.Write(ctx, typ, data)
	}
	if uerr := t.cork.uncork(); err == nil {
		err = uerr
	}
	return err
}
