package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/pgrealtime/realtime/gateway/httpapi"
)

// socketPath reports whether path is the socket's, which the 2.x server
// serves per tenant: under either of our prefixes, except the HTTP API's
// (httpapi checks those and answers in the API's shape).
func socketPath(path string) bool {
	return strings.HasPrefix(path, "/socket/") ||
		strings.HasPrefix(path, "/realtime/v1/") && !httpapi.IsAPIPath(path)
}

// withTenant refuses a socket whose host names another tenant before it
// reaches a route, with the status and body of the 2.x server's connect
// error, and counts it as a refused connection. It stays in the core
// rather than in httpapi with the API's own tenant check: the answer is
// the socket's and so is the counter.
func (s *Server) withTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.TenantFromHost || !socketPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		id := httpapi.TenantOf(r)
		if strings.EqualFold(id, s.cfg.Tenant) {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Info("request refused: unknown tenant", "tenant", id, "host", r.Host, "path", r.URL.Path,
			"want", s.cfg.Tenant, "hint", "the first label of the host name must be SELF_HOST_TENANT_NAME")
		s.refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"error": "Tenant not found"})
	})
}
