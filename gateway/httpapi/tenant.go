package httpapi

import (
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/pgrealtime/realtime/gateway/token"
)

// TenantOf returns the tenant a request names, as the 2.x server reads it:
// the first label of the Host header. Behind Kong that is the upstream's
// host name (Kong does not preserve the client's Host), which is why
// Supabase's compose file names the container realtime-dev.supabase-realtime.
func TenantOf(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	id, _, _ := strings.Cut(host, ".")
	return id
}

// socketPath reports whether path is the socket's, which the 2.x server
// serves per tenant: under either of our prefixes, except the HTTP API's
// (withTenant checks those and answers in the API's shape).
func socketPath(path string) bool {
	return strings.HasPrefix(path, "/socket/") ||
		strings.HasPrefix(path, "/realtime/v1/") && !IsAPIPath(path)
}

// withSocketTenant refuses a socket whose host names another tenant before
// it reaches a route, with the status and body of the 2.x server's connect
// error, and counts it among the core's refused connections.
func (a *API) withSocketTenant(next http.Handler) http.Handler {
	return a.checkTenant(next, socketPath, func(w http.ResponseWriter) {
		a.core.RefuseSocket()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Tenant not found"})
	})
}

// checkTenant passes on a request whose path scoped does not claim, or
// whose host names the tenant; it logs the others and answers them with
// refuse.
func (a *API) checkTenant(next http.Handler, scoped func(path string) bool, refuse func(http.ResponseWriter)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.cfg.TenantFromHost || !scoped(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		id := TenantOf(r)
		if strings.EqualFold(id, a.cfg.Tenant) {
			next.ServeHTTP(w, r)
			return
		}
		a.log.Info("request refused: unknown tenant", "tenant", id, "host", r.Host, "path", r.URL.Path,
			"want", a.cfg.Tenant, "hint", "the first label of the host name must be SELF_HOST_TENANT_NAME")
		refuse(w)
	})
}

// tenantScoped reports whether path is an API path served per tenant in
// the 2.x server: the REST broadcast, under either of our prefixes. The
// socket's paths are scoped too (withSocketTenant).
func tenantScoped(path string) bool {
	return path == "/api/broadcast" || strings.HasPrefix(path, "/api/broadcast/") ||
		strings.HasPrefix(path, "/realtime/v1/api/")
}

// withTenant refuses an API request whose host names another tenant, with
// the status and body of the 2.x AssignTenant plug, before it reaches a
// route.
func (a *API) withTenant(next http.Handler) http.Handler {
	return a.checkTenant(next, tenantScoped, func(w http.ResponseWriter) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Tenant not found in database"})
	})
}

// serveTenantHealth is the 2.x admin route GET /api/tenants/{tenant}/health
// that Supabase's compose file uses as the container health check. Like
// the original it needs a Bearer JWT signed with the API secret (else 403
// with no body), answers 404 {"message":"not found"} for another tenant, and
// 200 with {"data":{"healthy":...}} otherwise, healthy or not: GET /health
// is the check that fails (503) while changes are not flowing.
func (a *API) serveTenantHealth(w http.ResponseWriter, r *http.Request) {
	if !a.adminToken(r) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if !strings.EqualFold(r.PathValue("tenant"), a.cfg.Tenant) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
		return
	}
	s := a.core.Stats()
	live := s.Live
	node, _ := os.Hostname()
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"healthy": live,
		// The replication connection is our only long-lived one: while it
		// streams, the database is reachable.
		"db_connected":          live,
		"replication_connected": live,
		"connected_cluster":     s.Sockets,
		"region":                nil,
		"node":                  node,
	}})
}

// adminToken checks the Bearer token of an admin route as the 2.x server
// does: signed with the API JWT secret (or a key of the JWKS), no claim
// validators, no exp required. Without any key configured there is nothing
// to check against, and the route is open like the rest of the gateway.
func (a *API) adminToken(r *http.Request) bool {
	if a.cfg.JWTSecret == "" && a.cfg.JWKS == "" {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	var jwks []token.Key
	if a.cfg.JWKS != "" {
		// The core parsed it already.
		jwks, _ = token.ParseJWKS(a.cfg.JWKS)
	}
	// Built per request rather than kept on the API: health checks come
	// every few seconds at most, and the core's verifier (none with
	// SECURE_CHANNELS=false) applies JWT_CLAIM_VALIDATORS, which the 2.x
	// admin check does not.
	_, err := token.NewVerifier(a.cfg.JWTSecret, jwks, nil).Verify(tok, false)
	return err == nil
}
