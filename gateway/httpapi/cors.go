package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// corsMethods are the methods the HTTP API serves.
const corsMethods = "GET, HEAD, POST, OPTIONS"

// corsMaxAge lets a browser reuse a preflight answer for an hour.
const corsMaxAge = "3600"

// allowOrigin returns the Access-Control-Allow-Origin value for origin, or
// "" when CORSOrigins does not allow it.
func (a *API) allowOrigin(origin string) string {
	if slices.Contains(a.cfg.CORSOrigins, "*") {
		return "*"
	}
	if slices.Contains(a.cfg.CORSOrigins, strings.ToLower(origin)) {
		return origin
	}
	return ""
}

// withCORS answers CORS preflights for the HTTP API and adds the allowing
// header to its responses, as the cors plugin does in front of the 2.x
// server in Supabase's stack: any origin by default, requested headers
// reflected, no credentials (supabase-js sends its keys as headers, not
// cookies).
func (a *API) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !IsAPIPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		allow := a.allowOrigin(origin)
		if allow != "*" {
			h.Add("Vary", "Origin")
		}
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !preflight {
			if allow != "" {
				h.Set("Access-Control-Allow-Origin", allow)
			}
			next.ServeHTTP(w, r)
			return
		}
		if allow == "" {
			a.log.Info("CORS preflight refused", "origin", origin, "path", r.URL.Path, "hint", "add the origin to CORS_ALLOWED_ORIGINS")
			http.Error(w, "origin "+origin+" is not allowed: add it to CORS_ALLOWED_ORIGINS", http.StatusForbidden)
			return
		}
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Allow-Methods", corsMethods)
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}
