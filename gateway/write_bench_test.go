package gateway

import (
	"context"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkWriteBatch writes batches of 64 change-sized frames to a real
// loopback socket that a client drains, framed by us (framed) and, as
// before, through coder/websocket's Write between cork and uncork (coder).
// Compare the two in one run.
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
			if err := sc.writeBatch(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/frame")
	})
	b.Run("coder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fill()
			sc.cork.cork()
			err := sc.writeBatchSlowly(batch)
			if uerr := sc.cork.uncork(); err == nil {
				err = uerr
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/frame")
	})
}
