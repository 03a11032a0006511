package gateway

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
)

// sinkTransport is a transport without a network: it counts what the
// writers hand it, keeps the frames when keep is set, and lets a test
// wait until a number of frames has been written. Several conns may share
// one.
type sinkTransport struct {
	keep bool

	frames, bytes atomic.Int64
	// want is the count waitFor waits for; the writer that brings frames
	// to it signals reached.
	want    atomic.Int64
	reached chan struct{}

	mu   sync.Mutex
	kept []wsconn.Frame
}

func newSinkTransport(keep bool) *sinkTransport {
	return &sinkTransport{keep: keep, reached: make(chan struct{}, 1)}
}

func (s *sinkTransport) WriteBatch(batch []wsconn.Frame, abort *atomic.Bool) error {
	n := 0
	for i, f := range batch {
		if abort.Load() {
			batch = batch[:i]
			break
		}
		n += f.Size()
	}
	if s.keep {
		s.mu.Lock()
		s.kept = append(s.kept, batch...)
		s.mu.Unlock()
	}
	s.bytes.Add(int64(n))
	total := s.frames.Add(int64(len(batch)))
	if w := s.want.Load(); total >= w && total-int64(len(batch)) < w {
		select {
		case s.reached <- struct{}{}:
		default: // a signal is already waiting, and waitFor counts again
		}
	}
	return nil
}

func (s *sinkTransport) WriteNow(batch []wsconn.Frame, abort *atomic.Bool) (bool, error) {
	return true, s.WriteBatch(batch, abort)
}

func (s *sinkTransport) Close(websocket.StatusCode, string) {}

func (s *sinkTransport) CloseNow() {}

// waitFor waits until total frames have been written since the sink was
// made.
func (s *sinkTransport) waitFor(total int64) {
	s.want.Store(total)
	for s.frames.Load() < total {
		<-s.reached
	}
}

// written returns the frames kept so far.
func (s *sinkTransport) written() []wsconn.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kept)
}

// sinkConn makes a conn without a socket whose writer writes to out.
func sinkConn(srv *Server, id uint64, codec phoenix.Codec, out outbox.Transport) *conn {
	c := newConn(srv, id, nil, codec, "")
	c.box.Init(&srv.boxes, c.log, out)
	return c
}

// stopConns ends the writers of conns that have no reader, as conn.run
// does when a socket closes.
func stopConns(conns []*conn) {
	for _, c := range conns {
		c.box.Stop()
	}
	for _, c := range conns {
		c.box.Finish(outbox.ServerClose)
	}
}
