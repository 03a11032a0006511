package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgrealtime/realtime/gateway/cluster"
)

// Core is what the HTTP API needs from the gateway's core (the server and
// its hub). *gateway.Server provides it; declaring it here keeps the import
// arrow pointing one way: the core imports httpapi to mount it, never the
// reverse. Every method is safe for concurrent use.
type Core interface {
	// Verify checks the token of an API request as a channel token is
	// checked (role and exp required). It returns nil without secure
	// channels; its error reads as the original's reason.
	Verify(token string) error
	// MayWrite runs the RLS write check for extension ext (policy.Broadcast
	// or policy.Persistence) of topic (without "realtime:") for the
	// bearer of token. True without secure channels.
	MayWrite(token, topic, ext string) bool
	// Store keeps a broadcast of a private room for replay and returns its
	// id. The write check has passed.
	Store(room cluster.RoomRef, event string, payload json.RawMessage, binary []byte) (string, error)
	// Send delivers a broadcast to the room's members on this gateway and,
	// in a cluster, on the others. It never blocks on a socket.
	Send(m cluster.RoomMessage)
	// Stats is a snapshot of the core's counters, for /health, /metrics
	// and the admin health route.
	Stats() Stats
	// RefuseSocket counts a socket refused here, before the core saw it,
	// among the core's refused connections.
	RefuseSocket()
}

// Config is what the API serves with. The core fills it from its own
// options, defaults already applied.
type Config struct {
	// Logger receives the API's logs. Nil: slog.Default() with
	// component=httpapi.
	Logger *slog.Logger
	// MaxBroadcastBytes caps one broadcast payload (0: only empty ones).
	MaxBroadcastBytes int
	// CORSOrigins are the browser origins allowed to call the API; "*" is
	// any.
	CORSOrigins []string
	// Tenant is the one tenant served; with TenantFromHost, API requests
	// whose Host names another are refused, as the 2.x server does.
	Tenant         string
	TenantFromHost bool
	// JWTSecret and JWKS verify the admin route's token. Both empty: the
	// admin route is open, like the rest of the gateway.
	JWTSecret, JWKS string
	// ExposeMetrics serves /metrics: the core's Stats and Collectors (the
	// core's own histograms and counters) in the Prometheus format.
	ExposeMetrics bool
	Collectors    []prometheus.Collector
}

// API serves the gateway's HTTP API. It holds no state of its own beyond
// its configuration.
type API struct {
	cfg     Config
	core    Core
	log     *slog.Logger
	metrics http.Handler // nil without ExposeMetrics
}

// New returns the API over core.
func New(cfg Config, core Core) *API {
	log := cfg.Logger
	if log == nil {
		log = slog.Default().With("component", "httpapi")
	}
	a := &API{cfg: cfg, core: core, log: log}
	if cfg.ExposeMetrics {
		a.metrics = metricsHandler(core, cfg.Collectors)
	}
	return a
}

// Register adds the API's routes to mux: the REST broadcasts under both
// prefixes, the 2.x admin health route that Supabase's self-hosted stack
// calls, our own health check and the metrics.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /health", a.serveHealth)
	mux.HandleFunc("GET /{$}", a.serveHealth)
	if a.metrics != nil {
		mux.Handle("GET /metrics", a.metrics)
	}
	mux.HandleFunc("POST /api/broadcast", a.serveBroadcast)
	mux.HandleFunc("POST /realtime/v1/api/broadcast", a.serveBroadcast)
	mux.HandleFunc("GET /api/tenants/{tenant}/health", a.serveTenantHealth)
	mux.HandleFunc("POST /api/broadcast/{topic}/events/{event}", a.serveBroadcastSingle)
	mux.HandleFunc("POST /realtime/v1/api/broadcast/{topic}/events/{event}", a.serveBroadcastSingle)
}

// Wrap puts the API's guards in front of next, the whole server's
// handler: CORS for API paths (outermost, so preflights are answered
// whatever the host), then the tenant checks of API requests and sockets.
func (a *API) Wrap(next http.Handler) http.Handler {
	return a.withCORS(a.withTenant(a.withSocketTenant(next)))
}

// IsAPIPath reports whether path belongs to the HTTP API, which browsers
// call from other origins (realtime-js httpSend and the REST broadcast).
func IsAPIPath(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/realtime/v1/api/")
}

// requestToken is the token of an API request: the Authorization bearer
// (the user's, as realtime-js sends it), else the apikey header.
func requestToken(r *http.Request) string {
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return bearer
	}
	return r.Header.Get("apikey")
}

// authorized checks an API request's token, answering 401 with the reason
// when it is not valid.
func (a *API) authorized(w http.ResponseWriter, r *http.Request) bool {
	if err := a.core.Verify(requestToken(r)); err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized: " + err.Error()})
		return false
	}
	return true
}

// mayWrite is the write check of ext for one private message, with the
// request's own token.
func (a *API) mayWrite(r *http.Request, topic, ext string) bool {
	return a.core.MayWrite(requestToken(r), topic, ext)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
