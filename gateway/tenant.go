package gateway

import (
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/pgrealtime/realtime/gateway/token"
)

// tenantOf returns the tenant a request names, as the 2.x server reads it:
// the first label of the Host header. Behind Kong that is the upstream's
// host name (Kong does not preserve the client's Host), which is why
// Supabase's compose file names the container realtime-dev.supabase-realtime.
func tenantOf(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	id, _, _ := strings.Cut(host, ".")
	return id
}

// tenantScoped reports whether path is served per tenant in the 2.x server:
// the socket and the REST broadcast, under either of our prefixes.
func tenantScoped(path string) bool {
	return strings.HasPrefix(path, "/socket/") || strings.HasPrefix(path, "/realtime/v1/") ||
		path == "/api/broadcast" || strings.HasPrefix(path, "/api/broadcast/")
}

// checkTenant refuses a tenant-scoped request whose host names another
// tenant, with the status and body of the 2.x server, and reports whether
// it did.
func (s *Server) checkTenant(w http.ResponseWriter, r *http.Request) bool {
	if !s.cfg.TenantFromHost || !tenantScoped(r.URL.Path) {
		return true
	}
	id := tenantOf(r)
	if strings.EqualFold(id, s.cfg.Tenant) {
		return true
	}
	s.log.Info("request refused: unknown tenant", "tenant", id, "host", r.Host, "path", r.URL.Path,
		"want", s.cfg.Tenant, "hint", "the first label of the host name must be SELF_HOST_TENANT_NAME")
	if strings.Contains(r.URL.Path, "/api/") {
		// The 2.x AssignTenant plug.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Tenant not found in database"})
	} else {
		// The 2.x socket's connect error.
		s.refused.Add(1)
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Tenant not found"})
	}
	return false
}

// serveTenantHealth is the 2.x admin route GET /api/tenants/{tenant}/health
// that Supabase's compose file uses as the container health check. Like
// the original it needs a Bearer JWT signed with the API secret (else 403
// with no body), answers 404 {"message":"not found"} for another tenant, and
// 200 with {"data":{"healthy":...}} otherwise, healthy or not: GET /health
// is the check that fails (503) while changes are not flowing.
func (s *Server) serveTenantHealth(w http.ResponseWriter, r *http.Request) {
	if !s.adminToken(r) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if !strings.EqualFold(r.PathValue("tenant"), s.cfg.Tenant) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
		return
	}
	live, _ := s.live()
	node, _ := os.Hostname()
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"healthy": live,
		// The replication connection is our only long-lived one: while it
		// streams, the database is reachable.
		"db_connected":          live,
		"replication_connected": live,
		"connected_cluster":     s.Sockets(),
		"region":                nil,
		"node":                  node,
	}})
}

// adminToken checks the Bearer token of an admin route as the 2.x server
// does: signed with the API JWT secret (or a key of the JWKS), no claim
// validators, no exp required. Without any key configured there is nothing
// to check against, and the route is open like the rest of the gateway.
func (s *Server) adminToken(r *http.Request) bool {
	if s.cfg.JWTSecret == "" && s.cfg.JWKS == "" {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	var jwks []token.Key
	if s.cfg.JWKS != "" {
		// NewServer parsed it already.
		jwks, _ = token.ParseJWKS(s.cfg.JWKS)
	}
	// Built per request rather than kept on the Server: health checks come
	// every few seconds at most, and s.auth (nil with SECURE_CHANNELS=false)
	// applies JWT_CLAIM_VALIDATORS, which the 2.x admin check does not.
	_, err := token.NewVerifier(s.cfg.JWTSecret, jwks, nil).Verify(tok, false)
	return err == nil
}

// v2Routes adds the routes of the 2.x server that Supabase's self-hosted
// stack (its health check) and current clients (httpSend) call.
func (s *Server) v2Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/tenants/{tenant}/health", s.serveTenantHealth)
	mux.HandleFunc("POST /api/broadcast/{topic}/events/{event}", s.serveBroadcastSingle)
	mux.HandleFunc("POST /realtime/v1/api/broadcast/{topic}/events/{event}", s.serveBroadcastSingle)
}

// withTenant refuses requests for another tenant before they reach a route.
func (s *Server) withTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.checkTenant(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}
