package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// newPipeServer is newTestServer over an in-memory network: each client
// dial is a net.Pipe, not a TCP socket. Reads and writes on a pipe are
// channel operations, so a server and its clients can run inside a
// testing/synctest bubble, where a test about time (token expiry, write
// deadlines) waits on the fake clock instead of the real one. Call it
// inside synctest.Test; everything it starts ends in t.Cleanup.
func newPipeServer(t *testing.T, mod func(*Options)) *testServer {
	t.Helper()
	srv, hub := buildTestServer(t, mod, nil)
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	hs := &http.Server{Handler: srv.Handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(l)
	}()
	transport := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.CloseSockets(ctx); err != nil {
			t.Errorf("CloseSockets: %v", err)
		}
		hs.Close()
		<-served
		transport.CloseIdleConnections()
	})
	return &testServer{url: "ws://pipe", srv: srv, hub: hub,
		dialOpts: &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}}}
}

// pipeListener hands the server end of each dialed net.Pipe to Accept.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
