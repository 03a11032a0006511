package wsconn

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkWriteBatch writes batches of 64 change-sized frames to a real
// loopback socket that a client drains: framed here (framed), and, as
// sockets wrote before this package framed them, through coder/websocket's
// Write between cork and uncork (coder). Compare the two in one run.
func BenchmarkWriteBatch(b *testing.B) {
	p := dial(b, Options{WriteTimeout: 10 * time.Second})
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			if _, _, err := p.client.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	defer func() { p.client.CloseNow(); <-read }()
	frame := make([]byte, 300)
	for i := range frame {
		frame[i] = 'x'
	}
	batch := make([]Frame, 64)
	fill := func() {
		for i := range batch {
			batch[i] = Frame{Data: frame}
		}
	}
	var abort atomic.Bool
	b.Run("framed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fill()
			if err := p.srv.WriteBatch(batch, &abort); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/frame")
	})
	b.Run("coder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fill()
			if err := coderWrite(p.srv, batch, 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/frame")
	})
}

// coderWrite writes each frame with coder/websocket's Write between cork
// and uncork: the benchmark's yardstick.
func coderWrite(s *Conn, batch []Frame, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.cork.cork()
	var err error
	for _, f := range batch {
		if err != nil {
			break
		}
		typ := websocket.MessageText
		if f.Binary {
			typ = websocket.MessageBinary
		}
		err = s.ws.Write(ctx, typ, slices.Concat(f.Pre, f.Data, f.Post))
	}
	if uerr := s.cork.uncork(); err == nil {
		err = uerr
	}
	return err
}
