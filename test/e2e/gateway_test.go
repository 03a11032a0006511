package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/test/harness"
)

const (
	readyTimeout = 30 * time.Second // binary start to GET / = 200
	stopTimeout  = 15 * time.Second // SIGTERM to exit, then SIGKILL
	logTail      = 256 << 10        // bytes of gateway log shown on failure
)

// gateway is one running gateway process.
type gateway struct {
	port      int
	url       string // http://127.0.0.1:port
	socketURL string // ws://127.0.0.1:port/socket, what realtime-js 1.x is given
	process   *os.Process
	logs      *harness.SyncBuffer

	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid once exited is closed
	stopped sync.Once
}

// The gateway settings startGateway owns, and libpq's PG* variables that pgx
// reads: the caller's environment never leaks into a test through them.
var (
	envKeys     = []string{"PORT", "SLOT_NAME", "TEMPORARY_SLOT", "PUBLICATIONS", "SECURE_CHANNELS", "REPLICATION_MODE", "REALTIME_IP_VERSION", "EXPOSE_METRICS", "CONFIGURATION_FILE", "WEBHOOK_HEADERS"}
	envPrefixes = []string{"DB_", "JWT_", "LOG_", "MAX_", "PG"}
)

// startGateway runs the gateway binary on the database at dbURL, with
// extraEnv ("KEY=value") last so it overrides the defaults, and waits until
// GET / answers 200 (the replication stream is live). A cleanup stops it
// with SIGTERM and fails the test if it does not exit cleanly.
func startGateway(t *testing.T, dbURL string, extraEnv ...string) *gateway {
	t.Helper()
	env, err := dbEnv(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "SECURE_CHANNELS=false", "LOG_LEVEL=debug")
	env = append(env, extraEnv...)
	// The port is picked free and released before the gateway binds it, so
	// another process may take it in between: then try another one.
	for attempt := 1; ; attempt++ {
		g, err := launch(t, env)
		if err == nil {
			return g
		}
		if attempt == 3 || !strings.Contains(g.logs.String(), "address already in use") {
			t.Fatalf("%v\ngateway logs:\n%s", err, g.logs.Tail(logTail))
		}
	}
}

func dbEnv(dbURL string) ([]string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("database URL %q: %w", dbURL, err)
	}
	password, ok := u.User.Password()
	if !ok {
		password = "postgres" // the local cluster trusts every connection
	}
	return []string{
		"DB_HOST=" + u.Hostname(),
		"DB_PORT=" + u.Port(),
		"DB_NAME=" + strings.TrimPrefix(u.Path, "/"),
		"DB_USER=" + u.User.Username(),
		"DB_PASSWORD=" + password,
		"DB_SSL=false",
	}, nil
}

func launch(t *testing.T, env []string) (*gateway, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{
		port:      port,
		url:       fmt.Sprintf("http://127.0.0.1:%d", port),
		socketURL: fmt.Sprintf("ws://127.0.0.1:%d/socket", port),
		logs:      &harness.SyncBuffer{},
		exited:    make(chan struct{}),
	}
	cmd := exec.Command(gatewayBin)
	cmd.Env = append(hermeticEnv(), env...)
	cmd.Env = append(cmd.Env, "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = g.logs, g.logs
	// Take the gateway down with a test binary that dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the gateway: %v", err)
	}
	g.process = cmd.Process
	go func() {
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()
	if err := g.waitReady(); err != nil {
		g.process.Kill()
		<-g.exited
		return g, err
	}
	t.Cleanup(func() { g.stop(t) })
	return g, nil
}

// waitReady polls GET / until it answers 200.
func (g *gateway) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(g.url + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.exited:
			return fmt.Errorf("gateway exited before it was ready: %v", g.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not ready (GET / = 200) within %v", readyTimeout)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit; then it checks the exit
// status and the logs for a race report, and shows the logs if the test
// failed. It runs once, as a cleanup.
func (g *gateway) stop(t *testing.T) {
	g.stopped.Do(func() {
		select {
		case <-g.exited:
			t.Errorf("gateway on port %d exited during the test: %v", g.port, g.waitErr)
		default:
			g.process.Signal(syscall.SIGTERM)
			select {
			case <-g.exited:
				if g.waitErr != nil {
					t.Errorf("gateway on port %d: exit after SIGTERM: %v", g.port, g.waitErr)
				}
			case <-time.After(stopTimeout):
				g.process.Kill()
				<-g.exited
				t.Errorf("gateway on port %d did not exit within %v of SIGTERM", g.port, stopTimeout)
			}
		}
		logs := g.logs.String()
		if strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("gateway on port %d reported a data race", g.port)
		}
		if t.Failed() {
			t.Logf("gateway on port %d logs:\n%s", g.port, g.logs.Tail(logTail))
		}
	})
}

// hermeticEnv is this process's environment without the gateway's settings.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(envKeys, k) || slices.ContainsFunc(envPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
