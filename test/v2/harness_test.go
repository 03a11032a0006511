// Package v2 holds the end-to-end tests of the gateway with realtime-js 2.x
// and supabase-js clients under Node, against a real PostgreSQL and the
// real gateway binary.
package v2

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/test/harness"
	"github.com/pgrealtime/realtime/test/localpg"
	"github.com/pgrealtime/realtime/test/localpg/pgtest"
)

var (
	suite  pgtest.Suite
	binary string // the gateway, built once for the package
	jsDir  string
)

// TestMain builds what the tests drive, then runs them with pgtest.Main,
// which also fails the run on a goroutine left behind.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	jsDir = filepath.Join(dir, "js")
	require := os.Getenv(localpg.RequireEnv) != ""
	if _, err := exec.LookPath("node"); err != nil {
		if require {
			fmt.Fprintln(os.Stderr, "node is not installed: the client tests need Node.js")
			return 1
		}
		fmt.Fprintln(os.Stderr, "skipping realtime-js 2.x tests: node is not installed")
		return 0
	}
	if err := harness.NPMInstall(jsDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "realtime-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if binary, err = harness.Build(tmp, true); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return pgtest.Main(m, &suite)
}

func database(t *testing.T, schema string) string { return harness.Database(t, &suite, schema) }

func exec1(t *testing.T, dbURL, sql string, args ...any) { harness.Exec(t, dbURL, sql, args...) }

type gateway struct{ *harness.Gateway }

func startGateway(t *testing.T, dbURL string, env ...string) gateway {
	return gateway{harness.Start(t, binary, dbURL, env...)}
}

// event is one line the Node client printed.
type event map[string]any

func (e event) str(k string) string { s, _ := e[k].(string); return s }

type nodeClient struct {
	t      *testing.T
	stdin  io.WriteCloser
	events chan event
	// backlog holds events read but not yet matched by an expect, in order.
	backlog []event
}

// startClient runs client.mjs with a realtime-js 2.x library ("2119",
// "288") or supabase-js ("supabase").
func (g gateway) startClient(t *testing.T, lib string) *nodeClient {
	t.Helper()
	return g.startClientKey(t, lib, "anon-key")
}

// startClientKey is startClient with the apikey the client connects with.
func (g gateway) startClientKey(t *testing.T, lib, apikey string) *nodeClient {
	t.Helper()
	return g.startClientConfig(t, map[string]string{"lib": lib, "apikey": apikey})
}

// startClientConfig runs client.mjs with the given config; url is filled in.
func (g gateway) startClientConfig(t *testing.T, config map[string]string) *nodeClient {
	t.Helper()
	base := fmt.Sprintf("ws://127.0.0.1:%d/socket", g.Port)
	if config["lib"] == "supabase" {
		base = fmt.Sprintf("http://127.0.0.1:%d", g.Port)
	}
	return startClientWith(t, base, config)
}

// startClientURL runs client.mjs against base: a realtime-js socket URL,
// or for supabase-js the project URL.
func startClientURL(t *testing.T, lib, base, apikey string) *nodeClient {
	t.Helper()
	return startClientWith(t, base, map[string]string{"lib": lib, "apikey": apikey})
}

// startClientWith runs client.mjs against base with config (lib, apikey,
// accessToken).
func startClientWith(t *testing.T, base string, config map[string]string) *nodeClient {
	t.Helper()
	config["url"] = base
	lib := config["lib"]
	cfg, _ := json.Marshal(config)
	cmd := exec.Command("node", "client.mjs", string(cfg))
	cmd.Dir = jsDir
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr harness.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &nodeClient{t: t, stdin: stdin, events: make(chan event, 1000)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				c.events <- e
			}
		}
		close(c.events)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("client %s stderr:\n%s", lib, stderr.String())
		}
	})
	return c
}

func (c *nodeClient) send(cmd map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("client stdin: %v", err)
	}
}

// expect returns the first event, in arrival order, that matches pred and
// was not returned before; events that do not match stay for later expects.
func (c *nodeClient) expect(what string, pred func(event) bool) event {
	c.t.Helper()
	for i, e := range c.backlog {
		if pred(e) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return e
		}
	}
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				c.t.Fatalf("client exited while waiting for %s; unmatched: %v", what, c.backlog)
			}
			if pred(e) {
				return e
			}
			c.backlog = append(c.backlog, e)
		case <-timeout:
			c.t.Fatalf("timed out waiting for %s; unmatched: %v", what, c.backlog)
		}
	}
}

// subscribed subscribes a channel and waits for SUBSCRIBED.
func (c *nodeClient) subscribed(sub map[string]any) {
	c.t.Helper()
	sub["cmd"] = "subscribe"
	c.send(sub)
	e := c.expect("SUBSCRIBED of "+sub["name"].(string), func(e event) bool {
		return e.str("kind") == "status" && e.str("name") == sub["name"]
	})
	if e.str("status") != "SUBSCRIBED" {
		c.t.Fatalf("channel %v: %v", sub["name"], e)
	}
}
