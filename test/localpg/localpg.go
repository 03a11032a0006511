// Package localpg starts throwaway PostgreSQL clusters from the binaries
// installed on this machine: for the test suites (one cluster per test
// package) and for the demo. A cluster lives in a temporary directory,
// listens on a free loopback port, runs with wal_level=logical, and is removed
// by Close.
//
// Nothing here imports testing: the suites' helpers are in package pgtest,
// so the gateway binary, whose demo uses this package, links no test code.
//
// When the caller is root the cluster runs as the "postgres" user, because
// initdb and postgres refuse to run as root.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv names the environment variable that turns a missing PostgreSQL
// into a test failure instead of a skip. CI sets it, so CI never skips.
const RequireEnv = "REALTIME_REQUIRE_PG"

// ErrNoBinaries means no PostgreSQL server binaries were found on this machine.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (install the Debian package postgresql-15, or put initdb and postgres on PATH)")

// Cluster is one running throwaway PostgreSQL server.
type Cluster struct {
	BinDir string
	Dir    string
	Port   int

	cred *syscall.Credential

	dbSeq atomic.Int64

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *os.File
}

// FindBinDir returns the directory that holds initdb and postgres: from
// $PG_BINDIR, pg_config --bindir, PATH, or the Debian layout, newest first.
func FindBinDir() (string, error) {
	var candidates []string
	if d := os.Getenv("PG_BINDIR"); d != "" {
		candidates = append(candidates, d)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(debian)))
	candidates = append(candidates, debian...)
	for _, d := range candidates {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates and starts a new cluster. Extra settings are passed to
// postgres as -c name=value.
func Start(ctx context.Context, settings ...string) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{BinDir: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user to run the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	c.Dir, err = os.MkdirTemp("", "localpg-")
	if err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			os.RemoveAll(c.Dir)
			return nil, err
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", c.dataDir(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(c.Dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + c.Dir + "'",
		"wal_level = logical",
		"max_wal_senders = 40",
		"max_replication_slots = 40",
		"max_connections = 200",
		"fsync = off",
		"full_page_writes = off",
		"timezone = 'UTC'",
		"log_min_messages = warning",
	}
	conf = append(conf, settings...)
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	_, err = f.WriteString(strings.Join(conf, "\n") + "\n")
	f.Close()
	if err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	var lastErr error
	for range 5 {
		if c.Port, lastErr = freePort(); lastErr != nil {
			continue
		}
		if lastErr = c.Start(ctx); lastErr == nil {
			return c, nil
		}
	}
	c.Close()
	return nil, lastErr
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

// Start starts the server of a stopped cluster on its port and waits until it
// accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("localpg: already running")
	}
	logs, err := os.OpenFile(filepath.Join(c.Dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.BinDir, "postgres"), "-D", c.dataDir(), "-p", strconv.Itoa(c.Port))
	cmd.Stdout, cmd.Stderr = logs, logs
	// Pdeathsig takes the server down with a test binary that dies without
	// cleaning up, so no stray clusters pile up on the machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logs.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logs.Close(); close(done) }()
	c.cmd, c.done, c.logs = cmd, done, logs

	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-done:
			c.cmd = nil
			return fmt.Errorf("postgres exited at start: %s", c.tailLog())
		case <-ctx.Done():
			c.stopLocked(syscall.SIGQUIT)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stopLocked(syscall.SIGQUIT)
			return fmt.Errorf("postgres did not accept connections in 30s: %s", c.tailLog())
		}
	}
}

func (c *Cluster) tailLog() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "postgres.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop shuts the server down (fast mode) and keeps its data.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(syscall.SIGINT)
}

// Kill stops the server in immediate mode, as a crash would.
func (c *Cluster) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(syscall.SIGQUIT)
}

func (c *Cluster) stopLocked(sig syscall.Signal) {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}

// Close stops the server and removes the cluster's directory.
func (c *Cluster) Close() {
	c.Stop()
	os.RemoveAll(c.Dir)
}

// ConnString is a libpq URL for database db as the superuser postgres.
func (c *Cluster) ConnString(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// CreateDatabase creates a fresh database and returns its name, so that tests
// sharing one cluster do not see each other's tables, publications or slots.
func (c *Cluster) CreateDatabase(ctx context.Context, prefix string) (string, error) {
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("%s_%d", sanitize(prefix), c.dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return name, nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "db"
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
