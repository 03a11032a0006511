package replication

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConnectErrorsNameTheSetting runs a stream against a port nobody
// listens on and against a database that does not exist: its status names
// the setting to check, once, without pgconn's repeated attempts.
func TestConnectErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	db := newDB(t)
	u, err := url.Parse(db.url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database"
	for _, tc := range []struct {
		name, conn string
		want       []string
	}{
		// sslmode=prefer: pgconn tries TLS, then plain, and reports both.
		{"nobody listens", fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=prefer", closed),
			[]string{"cannot reach PostgreSQL at " + closed, "connection refused", "check DB_HOST and DB_PORT"}},
		{"no such database", u.String(), []string{`"no_such_database" does not exist`, "check DB_NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(Config{ConnString: tc.conn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx, make(chan Batch, 1)) }()
			t.Cleanup(func() { cancel(); <-done })
			eventually(t, 20*time.Second, "a connect error in Status", func() bool { return s.Status().LastError != "" })
			last := s.Status().LastError
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("LastError %q does not contain %q", last, w)
				}
			}
			if strings.Count(last, "connection refused") > 1 || strings.Contains(last, "\n") {
				t.Errorf("LastError repeats the attempts: %q", last)
			}
		})
	}
}
