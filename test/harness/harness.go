// Package harness runs the real gateway binary for end-to-end tests: it
// builds it once, starts it on a database with the original's environment
// variables, waits until it is live, and stops or kills it.
package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/test/localpg/pgtest"
)

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build compiles the gateway into dir and returns the binary's path.
func Build(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "realtime")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/realtime")...)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the gateway: %v\n%s", err, out)
	}
	return bin, nil
}

// Database makes a fresh database on the suite's cluster with schema loaded.
func Database(t testing.TB, suite *pgtest.Suite, schema string) string {
	t.Helper()
	dbURL := suite.Database(t)
	Exec(t, dbURL, schema)
	return dbURL
}

// Exec runs one statement on dbURL.
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Gateway is one running gateway process.
type Gateway struct {
	Port int
	Logs *SyncBuffer

	t    testing.TB
	bin  string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs bin on dbURL and waits until it is live. Extra env entries
// override the defaults (insecure channels, debug logs, a free port).
func Start(t testing.TB, bin, dbURL string, env ...string) *Gateway {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	g := &Gateway{Port: port, Logs: &SyncBuffer{}, t: t, bin: bin}
	g.env = append(os.Environ(),
		"DB_HOST="+u.Hostname(), "DB_PORT="+u.Port(), "DB_NAME="+strings.TrimPrefix(u.Path, "/"),
		"DB_USER=postgres", "DB_PASSWORD=postgres", "DB_SSL=false", fmt.Sprintf("PORT=%d", port),
		"SECURE_CHANNELS=false", "LOG_LEVEL=debug", "REALTIME_IP_VERSION=IPv4")
	g.env = append(g.env, env...)
	g.start()
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", g.Logs.String())
		}
	})
	return g
}

func (g *Gateway) start() {
	g.t.Helper()
	g.cmd = exec.Command(g.bin)
	g.cmd.Env = g.env
	g.cmd.Stdout, g.cmd.Stderr = g.Logs, g.Logs
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	done := make(chan struct{})
	cmd := g.cmd
	go func() { cmd.Wait(); close(done) }()
	g.done = done
	g.WaitLive()
}

// WaitLive waits until /health answers 200.
func (g *Gateway) WaitLive() {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", g.Port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-g.done:
			g.t.Fatalf("gateway exited:\n%s", g.Logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway not live in 30s:\n%s", g.Logs.String())
		}
	}
}

// Stop sends SIGTERM and waits; it returns the exit code and how long the
// shutdown took. A gateway already stopped returns its earlier result.
func (g *Gateway) Stop() (exitCode int, took time.Duration) {
	if g.cmd == nil {
		return -1, 0
	}
	start := time.Now()
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
		g.t.Error("gateway did not stop within 20s of SIGTERM")
	}
	code := g.cmd.ProcessState.ExitCode()
	g.cmd = nil
	return code, time.Since(start)
}

// Kill ends the gateway with SIGKILL, as a crash would.
func (g *Gateway) Kill() {
	g.cmd.Process.Kill()
	<-g.done
	g.cmd = nil
}

// Restart starts the gateway again on the same port and environment.
func (g *Gateway) Restart() {
	g.t.Helper()
	g.start()
}

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes.
func (g *Gateway) PeakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return -1
}

// SyncBuffer collects a process's output from several goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail is the last n bytes of the output, for failure messages.
func (s *SyncBuffer) Tail(n int) string {
	out := s.String()
	if len(out) <= n {
		return out
	}
	return fmt.Sprintf("[... %d bytes before ...]\n%s", len(out)-n, out[len(out)-n:])
}

// NPMInstall runs npm ci in dir when node_modules is missing or older than
// the lockfile, so that `go test ./...` is enough on a fresh machine.
func NPMInstall(dir string) error {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	if mods, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !mods.ModTime().Before(lock.ModTime()) {
		return nil
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return nil
}
