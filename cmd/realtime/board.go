package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// boardFiles is the status board page: plain HTML, CSS and JS of ours.
//
//go:embed board
var boardFiles embed.FS

// supabaseJSCDN is where the page loads supabase-js from when no local copy
// is found. The library is not ours, so it is never copied into the repo.
const supabaseJSCDN = "https://cdn.jsdelivr.net/npm/@supabase/supabase-js@2.119.1/dist/umd/supabase.js"

// localSupabaseJS lists where a local npm install may hold the browser
// bundle; the tests' install (test/v2/js) is one of them.
var localSupabaseJS = []string{
	"node_modules/@supabase/supabase-js/dist/umd/supabase.js",
	"test/v2/js/node_modules/@supabase/supabase-js/dist/umd/supabase.js",
}

// board serves the demo's status board and the small JSON API behind its
// buttons. Changes reach the page only through the gateway; the API only
// reads the initial rows and writes.
type board struct {
	db          *pgxpool.Pool
	gatewayPort string
	dsn         string
	bundle      string // local supabase.js, or "" for the CDN
	log         *slog.Logger
}

func findSupabaseJS() string {
	candidates := localSupabaseJS
	if p, ok := os.LookupEnv("SUPABASE_JS_BUNDLE"); ok && p != "" {
		candidates = []string{p}
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func (b *board) handler() http.Handler {
	static, _ := fs.Sub(boardFiles, "board")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /vendor/supabase.js", func(w http.ResponseWriter, r *http.Request) {
		if b.bundle == "" {
			http.Redirect(w, r, supabaseJSCDN, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, b.bundle)
	})
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		writeJSON(w, map[string]string{
			// The gateway, as the browser reaches this page's host.
			"url":    "http://" + net.JoinHostPort(host, b.gatewayPort),
			"apikey": "demo", // SECURE_CHANNELS is off in the demo; realtime-js wants some key
			"psql":   fmt.Sprintf(`psql "%s" -c "UPDATE public.service SET status_id = 2 WHERE id = 1"`, b.dsn),
		})
	})
	mux.HandleFunc("GET /api/services", b.listServices)
	mux.HandleFunc("POST /api/services", b.addService)
	mux.HandleFunc("POST /api/services/{id}/move", b.moveService)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

type service struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	StatusID int64  `json:"status_id"`
}

func (b *board) listServices(w http.ResponseWriter, r *http.Request) {
	rows, err := b.db.Query(r.Context(), "SELECT id, name, status_id FROM public.service ORDER BY id")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	out := []service{}
	for rows.Next() {
		var s service
		if err := rows.Scan(&s.ID, &s.Name, &s.StatusID); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, out)
}

func (b *board) addService(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Name == "" || len(in.Name) > 255 {
		http.Error(w, `want {"name": "..."} (at most 255 bytes)`, http.StatusBadRequest)
		return
	}
	if _, err := b.db.Exec(r.Context(), "INSERT INTO public.service (name, status_id) VALUES ($1, 1)", in.Name); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *board) moveService(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct {
		StatusID int64 `json:"status_id"`
	}
	if err == nil {
		err = json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in)
	}
	if err != nil || in.StatusID < 1 || in.StatusID > 3 {
		http.Error(w, `want POST /api/services/{id}/move with {"status_id": 1, 2 or 3}`, http.StatusBadRequest)
		return
	}
	tag, err := b.db.Exec(r.Context(), "UPDATE public.service SET status_id = $1 WHERE id = $2", in.StatusID, id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if tag.RowsAffected() == 0 {
		http.Error(w, "no such service", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listenBoard takes BOARD_PORT, or 8080, or any free port when 8080 is
// taken and no port was asked for.
func listenBoard() (net.Listener, error) {
	if p, ok := os.LookupEnv("BOARD_PORT"); ok && p != "" {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			return nil, fmt.Errorf("BOARD_PORT=%s: %w", p, err)
		}
		return ln, nil
	}
	if ln, err := net.Listen("tcp", ":8080"); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", ":0")
}

// serveBoard serves the board on ln until ctx is done.
func serveBoard(ctx context.Context, ln net.Listener, b *board) {
	srv := &http.Server{Handler: b.handler(), ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		b.log.Error("status board server", "err", err)
	}
}
