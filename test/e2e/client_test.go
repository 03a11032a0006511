package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/test/harness"
)

const (
	waitJoin   = 10 * time.Second       // realtime-js's own join timeout
	waitChange = 10 * time.Second       // commit to callback, generously
	quiet      = 500 * time.Millisecond // extra window of a negative check, after its sentinel
)

// clientConfig is v1client.mjs's argument.
type clientConfig struct {
	URL                 string            `json:"url"`
	Params              map[string]string `json:"params,omitempty"`
	HeartbeatIntervalMs int               `json:"heartbeatIntervalMs,omitempty"`
	Channels            []channel         `json:"channels"`
}

// channel is a topic to join and the events bound with .on(event, cb).
type channel struct {
	Topic  string   `json:"topic"`
	Events []string `json:"events"`
	// Params is the join payload, e.g. {"user_token": jwt}.
	Params map[string]string `json:"params,omitempty"`
}

// line is one JSON line that v1client.mjs printed.
type line struct {
	Kind     string          `json:"kind"`
	Topic    string          `json:"topic"`
	Event    string          `json:"event"`
	Binding  string          `json:"binding"`
	Ref      json.RawMessage `json:"ref"`
	JoinRef  string          `json:"join_ref"`
	Payload  json.RawMessage `json:"payload"`
	Response json.RawMessage `json:"response"`
	Code     int             `json:"code"`
	Reason   string          `json:"reason"`
	Message  string          `json:"message"`
	RecvMS   float64         `json:"recv_ms"`

	raw string
}

func (l line) String() string {
	const max = 400
	if len(l.raw) > max {
		return fmt.Sprintf("%s... (%d bytes)", l.raw[:max], len(l.raw))
	}
	return l.raw
}

// client is one Node process running v1client.mjs: one realtime-js socket.
type client struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *harness.SyncBuffer
	lines  chan line     // from the reader goroutine; closed at EOF
	quit   chan struct{} // stops the reader at cleanup
	done   chan struct{} // closed when the reader has returned
	exited chan struct{} // closed when the process has exited

	// Only the test goroutine touches these.
	log     []line // every line received so far, in order
	claimed []bool // log[i] was returned by expect
	eof     bool
}

// startClient runs v1client.mjs against g with cfg (cfg.URL defaults to
// g.socketURL). A cleanup stops the process and its reader.
func (g *gateway) startClient(t *testing.T, name string, cfg clientConfig) *client {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = g.socketURL
	}
	arg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(jsDir, "v1client.mjs"), string(arg))
	cmd.Dir = jsDir
	c := &client{
		name:   name,
		cmd:    cmd,
		stderr: &harness.SyncBuffer{},
		lines:  make(chan line, 4096),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	cmd.Stderr = c.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	// An os.Pipe of our own rather than StdoutPipe: Wait does not close it,
	// so the reader sees every line the process wrote before it exited.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("start node: %v", err)
	}
	w.Close()
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	go c.read(r)
	t.Cleanup(func() { c.stop(t, r) })
	return c
}

func (c *client) read(r io.Reader) {
	defer close(c.done)
	defer close(c.lines)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		l := line{raw: sc.Text()}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			l.Kind = "unparsed"
		}
		select {
		case c.lines <- l:
		case <-c.quit:
			return
		}
	}
	if err := sc.Err(); err != nil {
		select {
		case c.lines <- line{Kind: "unparsed", raw: "read stdout: " + err.Error()}:
		case <-c.quit:
		}
	}
}

// stop asks the client to exit, kills it after a deadline, and waits for
// the reader. On failure it shows the client's stderr and last lines.
func (c *client) stop(t *testing.T, stdout *os.File) {
	close(c.quit)
	c.stdin.Write([]byte(`{"cmd":"exit"}` + "\n"))
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	stdout.Close() // unblocks the reader if anything still holds the pipe
	<-c.done
	if t.Failed() {
		t.Logf("client %s: last lines:\n%s\nstderr:\n%s", c.name, c.tail(30), c.stderr.Tail(16<<10))
	}
}

// send writes one command to the client's stdin.
func (c *client) send(t *testing.T, cmd map[string]any) {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("client %s: write %s: %v", c.name, b, err)
	}
}

// next receives one more line into the log. It reports false when the
// deadline passed or the client's output ended.
func (c *client) next(deadline <-chan time.Time) bool {
	if c.eof {
		return false
	}
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.eof = true
			return false
		}
		c.log = append(c.log, l)
		c.claimed = append(c.claimed, false)
		return true
	case <-deadline:
		return false
	}
}

// expect returns the first line matching pred that no earlier expect
// returned, waiting up to timeout for it. Lines received on the way stay in
// the log for later expects and checks.
func (c *client) expect(t *testing.T, what string, timeout time.Duration, pred func(line) bool) line {
	t.Helper()
	deadline := time.After(timeout)
	for i := 0; ; i++ {
		for i >= len(c.log) {
			if !c.next(deadline) {
				if c.eof {
					t.Fatalf("client %s: output ended while waiting for %s; last lines:\n%s", c.name, what, c.tail(20))
				}
				t.Fatalf("client %s: no %s within %v; last lines:\n%s", c.name, what, timeout, c.tail(20))
			}
		}
		if !c.claimed[i] && pred(c.log[i]) {
			c.claimed[i] = true
			return c.log[i]
		}
	}
}

// mark is the position in the log that later checks start from.
func (c *client) mark() int { return len(c.log) }

// noMessage fails if a line matching pred was received since mark, or
// arrives within window. Use it after a sentinel: a change committed after
// the unwanted one, that must arrive and has arrived, proves the unwanted
// one would be in the log by now.
func (c *client) noMessage(t *testing.T, what string, since int, window time.Duration, pred func(line) bool) {
	t.Helper()
	deadline := time.After(window)
	for i := since; ; i++ {
		for i >= len(c.log) {
			if !c.next(deadline) {
				return
			}
		}
		if pred(c.log[i]) {
			t.Fatalf("client %s: got %s: %v", c.name, what, c.log[i])
		}
	}
}

// all returns the lines received since mark that match pred.
func (c *client) all(since int, pred func(line) bool) []line {
	var ls []line
	for _, l := range c.log[since:] {
		if pred(l) {
			ls = append(ls, l)
		}
	}
	return ls
}

func (c *client) tail(n int) string {
	start := max(0, len(c.log)-n)
	var b strings.Builder
	if start > 0 {
		fmt.Fprintf(&b, "  [... %d lines before ...]\n", start)
	}
	for _, l := range c.log[start:] {
		fmt.Fprintf(&b, "  %v\n", l)
	}
	return b.String()
}

// joined waits until every topic is joined; a join error or timeout fails.
func (c *client) joined(t *testing.T, topics ...string) map[string]line {
	t.Helper()
	got := make(map[string]line)
	for _, topic := range topics {
		l := c.expect(t, "join of "+topic, waitJoin, func(l line) bool {
			return l.Topic == topic && strings.HasPrefix(l.Kind, "join")
		})
		if l.Kind != "joined" {
			t.Fatalf("client %s: join %s: %v", c.name, topic, l)
		}
		got[topic] = l
	}
	return got
}

// Predicates on lines.

func isKind(kinds ...string) func(line) bool {
	return func(l line) bool {
		for _, k := range kinds {
			if l.Kind == k {
				return true
			}
		}
		return false
	}
}

// isFrame matches a message the socket received on topic with event ("" for any).
func isFrame(topic, event string) func(line) bool {
	return func(l line) bool {
		return l.Kind == "frame" && l.Topic == topic && (event == "" || l.Event == event)
	}
}

// isChange matches a change (an INSERT, UPDATE, DELETE or TRUNCATE message)
// that the socket received, whatever its topic, for which f holds.
func isChange(f func(line, change) bool) func(line) bool {
	return func(l line) bool {
		if l.Kind != "frame" || !isChangeEvent(l.Event) {
			return false
		}
		ch, err := decodeChange(l.Payload)
		return err == nil && f(l, ch)
	}
}

// isEvent matches a channel callback on topic for event, for which f holds
// (nil: any).
func isEvent(topic, event string, f func(change) bool) func(line) bool {
	return func(l line) bool {
		if l.Kind != "event" || l.Topic != topic || l.Event != event {
			return false
		}
		if f == nil {
			return true
		}
		ch, err := decodeChange(l.Payload)
		return err == nil && f(ch)
	}
}

func isChangeEvent(event string) bool {
	switch event {
	case "INSERT", "UPDATE", "DELETE", "TRUNCATE":
		return true
	}
	return false
}
