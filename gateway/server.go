package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/httpapi"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/gateway/token"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// Replication is what the server needs from the replication stream:
// health, and the catalog to check topics at join.
type Replication interface {
	Status() replication.Status
	Table(ctx context.Context, schema, table string) (replication.TableInfo, error)
	// WaitLive returns once the stream has started at least once: from then
	// on its slot keeps every change for us.
	WaitLive(ctx context.Context) error
}

// startupJoinWait bounds how long a join waits for the first slot.
const startupJoinWait = 8 * time.Second

// Server is the HTTP and WebSocket front of the gateway.
type Server struct {
	// cfg is the Options it was built with, defaults filled in.
	cfg  Options
	log  *slog.Logger
	hub  *Hub
	repl Replication
	// checks holds a join until the first slot exists and refuses topics
	// and bindings that could never deliver (the catalog says why).
	checks *join.Checker
	auth   *token.Verifier
	// policy authorizes private channels (private.go); nil: refused.
	policy private.Policy
	// api serves the HTTP API; the server mounts its routes and guards.
	api *httpapi.API

	mu      sync.Mutex
	conns   map[*conn]struct{}
	nextID  uint64
	drained chan struct{} // closed when conns becomes empty during shutdown
	closing bool

	// admitted counts sockets from upgrade to close, for MaxSockets.
	admitted    atomic.Int64
	disconnects [outbox.NumReasons]atomic.Int64
	badFrames   atomic.Int64
	panics      atomic.Int64
	refused     atomic.Int64
	// joinRefusals counts refused joins by code.
	joinRefusals join.Counter
	// routerWait is the time (ns) routing spent waiting for full sockets.
	routerWait atomic.Int64
	// corkBufs holds the sockets' batch buffers (*[]byte) between batches.
	corkBufs sync.Pool
	// boxes is what every socket's outbox shares.
	boxes outbox.Config
}

// NewServer builds a server from opts (see Options for zero values) and
// the hub its sockets join. repl may be nil (no health from replication and
// no topic checks), which only tests use.
func NewServer(opts Options, hub *Hub, repl Replication) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: opts, log: opts.Logger, hub: hub, repl: repl, policy: opts.Policy, conns: map[*conn]struct{}{}}
	s.boxes = outbox.Config{Limit: opts.OutboundQueueBytes, Grace: opts.SlowConsumerGrace,
		Waited: func(d time.Duration) { s.routerWait.Add(int64(d)) }, Panicked: func() { s.panics.Add(1) }}
	s.checks = join.NewChecker(repl, opts.Publications, opts.Logger)
	if opts.SecureChannels {
		var jwks []token.Key
		if opts.JWKS != "" {
			// withDefaults parsed it already.
			jwks, _ = token.ParseJWKS(opts.JWKS)
		}
		s.auth = token.NewVerifier(opts.JWTSecret, jwks, opts.ClaimValidators)
	}
	collectors := []prometheus.Collector{hub.latency, &hub.db, &s.joinRefusals}
	if hub.authz != nil {
		collectors = append(collectors, authz.NewCollector(hub.authz))
	}
	s.api = httpapi.New(httpapi.Config{
		Logger:            opts.Logger,
		MaxBroadcastBytes: opts.MaxBroadcastBytes,
		CORSOrigins:       opts.CORSOrigins,
		Tenant:            opts.Tenant,
		TenantFromHost:    opts.TenantFromHost,
		JWTSecret:         opts.JWTSecret,
		JWKS:              opts.JWKS,
		ExposeMetrics:     opts.ExposeMetrics,
		Collectors:        collectors,
	}, apiCore{s})
	return s, nil
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /socket/websocket", s.serveSocket)
	mux.HandleFunc("GET /realtime/v1/websocket", s.serveSocket)
	s.api.Register(mux)
	return s.api.Wrap(mux)
}

// live reports whether changes are flowing, and why not.
func (s *Server) live() (bool, replication.Status) {
	if s.repl == nil {
		return true, replication.Status{Live: true}
	}
	st := s.repl.Status()
	return st.Live, st
}

// socketToken finds the connect-time token as the original does: the
// x-api-key header, then the apikey query parameter, then token.
func socketToken(r *http.Request) string {
	if t := r.Header.Get("x-api-key"); t != "" {
		return t
	}
	q := r.URL.Query()
	if t := q.Get("apikey"); t != "" {
		return t
	}
	return q.Get("token")
}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	codec, err := phoenix.CodecFor(r.URL.Query().Get("vsn"))
	if err != nil {
		s.refuse(w, http.StatusForbidden, err.Error())
		return
	}
	token := socketToken(r)
	if s.auth != nil {
		if _, err := s.auth.Verify(token, false); err != nil {
			s.log.Info("socket refused", "remote", r.RemoteAddr, "err", err)
			// The original answers a refused connect with a bare 403.
			s.refuse(w, http.StatusForbidden, "")
			return
		}
	}
	if n := s.admitted.Add(1); s.cfg.MaxSockets > 0 && n > int64(s.cfg.MaxSockets) {
		s.admitted.Add(-1)
		s.log.Warn("socket refused: too many sockets", "max", s.cfg.MaxSockets, "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", "5")
		s.refuse(w, http.StatusServiceUnavailable, fmt.Sprintf("ConnectionRateLimitReached: too many sockets on this gateway (MAX_SOCKETS=%d); retry later", s.cfg.MaxSockets))
		return
	}
	// Counted until the socket's reader ends (or this handler, if the
	// socket never gets that far).
	handedOff := false
	defer func() {
		if !handedOff {
			s.admitted.Add(-1)
		}
	}()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.refuse(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	s.nextID++
	id := s.nextID
	s.mu.Unlock()

	sock, err := wsconn.Accept(w, r, wsconn.Options{Bufs: &s.corkBufs, WriteTimeout: s.cfg.WriteTimeout, ReadLimit: s.cfg.MaxFrameBytes})
	if err != nil {
		s.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	c := newConn(s, id, sock, codec, token)
	if !s.register(c) {
		c.box.Stop()
		sock.Close(websocket.StatusGoingAway, "server is shutting down")
		return
	}
	c.log.Debug("socket open", "vsn", codec.Vsn(), "remote", r.RemoteAddr)
	// The socket's reader runs on a fresh goroutine and the handler
	// returns: net/http's request goroutine has a deep, grown stack that
	// every idle socket would keep. The server still owns the reader: it
	// is registered, and CloseSockets waits for it to unregister.
	handedOff = true
	go func() {
		defer s.admitted.Add(-1)
		defer s.unregister(c)
		c.run()
	}()
}

func (s *Server) refuse(w http.ResponseWriter, status int, msg string) {
	s.refused.Add(1)
	if msg == "" {
		w.WriteHeader(status)
		return
	}
	http.Error(w, msg, status)
}

func (s *Server) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.closing && len(s.conns) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

func (s *Server) countDisconnect(r outbox.Reason) { s.disconnects[r].Add(1) }

// CloseSockets closes every socket with 1001 "going away" once it has
// written what it was handed, and waits until all are gone. When ctx ends
// first, the sockets still open are closed at once, without the rest.
// New sockets are refused from now on.
func (s *Server) CloseSockets(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	var drained chan struct{}
	if len(s.conns) > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(outbox.Shutdown, "server shutting down")
	}
	if drained == nil {
		return nil
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	behind := len(s.conns)
	for c := range s.conns {
		c.stop() // ends its reader and writers; they unregister it
	}
	s.mu.Unlock()
	select {
	case <-drained:
	case <-time.After(time.Second):
	}
	return fmt.Errorf("%d sockets were still writing when the drain ended: %w", behind, ctx.Err())
}

// Sockets returns the number of open sockets.
func (s *Server) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
