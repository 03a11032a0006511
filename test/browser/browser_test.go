// Package browser tests the README's first command as a user sees it:
// `realtime demo` brings up PostgreSQL, the gateway and the status board,
// and in headless Chromium a card moves column when an UPDATE commits.
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgrealtime/realtime/test/harness"
	"github.com/pgrealtime/realtime/test/localpg"
)

const chromium = "/usr/bin/chromium"

// missingParts lists what the browser test needs and this machine lacks.
func missingParts() []string {
	var missing []string
	if _, err := localpg.FindBinDir(); err != nil {
		missing = append(missing, err.Error())
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node is not installed (Debian: nodejs npm)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" is missing (Debian: apt-get install chromium)")
	}
	return missing
}

// TestMain fails under REALTIME_REQUIRE_PG (CI) when a part is missing, and
// otherwise runs no test. A skipped test is silent in `go test ./...`,
// which prints only "ok" for a passing package; a package that ran no test
// gets "[no tests to run]" on that line, so the skip shows without -v.
func TestMain(m *testing.M) {
	flag.Parse()
	if missing := missingParts(); len(missing) > 0 {
		if os.Getenv(localpg.RequireEnv) != "" {
			fmt.Fprintf(os.Stderr, "the browser test needs: %s\n", strings.Join(missing, "; "))
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "skipping the browser test: %s\n", strings.Join(missing, "; "))
		flag.Set("test.run", "^$")
	}
	goleak.VerifyTestMain(m)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// TestStatusBoardCardMoves runs `realtime demo`, opens the board in
// Chromium, commits an UPDATE with SQL and waits for the card to move.
// UPDATE_SCREENSHOT=1 also writes docs/statusboard.png.
func TestStatusBoardCardMoves(t *testing.T) {
	root := harness.RepoRoot()
	jsDir := filepath.Join(root, "test", "browser", "js")
	for _, dir := range []string{jsDir, filepath.Join(root, "test", "v2", "js")} {
		if err := harness.NPMInstall(dir); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := harness.Build(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}

	// The demo, as the README runs it, from the repository's root.
	boardPort := freePort(t)
	demo := exec.Command(bin, "demo")
	demo.Dir = root
	demo.Env = append(os.Environ(), "PORT="+freePort(t), "BOARD_PORT="+boardPort, "LOG_LEVEL=info",
		"SUPABASE_JS_BUNDLE="+filepath.Join(root, "test/v2/js/node_modules/@supabase/supabase-js/dist/umd/supabase.js"))
	demo.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logs := &harness.SyncBuffer{}
	stderr, _ := demo.StderrPipe()
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	dsn := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, logs))
		psql := regexp.MustCompile(`^\s*PostgreSQL:\s+(\S+)`)
		for sc.Scan() {
			if m := psql.FindStringSubmatch(sc.Text()); m != nil {
				dsn <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
		exited <- demo.Wait()
	}()
	t.Cleanup(func() {
		// Ctrl-C, as a user stops it: everything stops, exit 0.
		demo.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("demo exited with %v after Ctrl-C", err)
			}
		case <-time.After(20 * time.Second):
			demo.Process.Kill()
			t.Error("demo did not stop within 20 s of Ctrl-C")
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", logs.String())
		}
	})
	var dbURL string
	select {
	case dbURL = <-dsn:
	case err := <-exited:
		t.Fatalf("demo exited: %v\n%s", err, logs.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("demo did not come up:\n%s", logs.String())
	}

	artifacts := os.Getenv("ARTIFACTS_DIR")
	if artifacts == "" {
		artifacts = filepath.Join(root, "test", "browser", "artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "statusboard.png")

	node := exec.Command("node", "board.mjs", "http://localhost:"+boardPort+"/", chromium)
	node.Dir = jsDir
	// Chromium's profile and Playwright's artifacts go to the OS temporary
	// directory: make it the test's, which the test removes whatever happens.
	node.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	node.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, _ := node.StdinPipe()
	stdout, _ := node.StdoutPipe()
	nodeErr := &harness.SyncBuffer{}
	node.Stderr = nodeErr
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// End of input: the script closes the browser, removes its profile
		// and exits. A kill is the last resort (what the TMPDIR above is for).
		stdin.Close()
		nodeDone := make(chan struct{})
		go func() { node.Wait(); close(nodeDone) }()
		select {
		case <-nodeDone:
		case <-time.After(15 * time.Second):
			node.Process.Kill()
			<-nodeDone
		}
		if t.Failed() {
			t.Logf("browser driver stderr:\n%s", nodeErr.String())
		}
	})
	lines := make(chan map[string]any, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	next := func(kind string) map[string]any {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("browser driver exited while waiting for %q", kind)
				}
				if m["kind"] == kind {
					return m
				}
				if m["kind"] == "error" {
					t.Fatalf("browser: %v", m["message"])
				}
			case <-timeout:
				t.Fatalf("timed out waiting for %q from the browser", kind)
			}
		}
	}
	next("ready")

	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	fmt.Fprintf(stdin, `{"cmd":"expect","card":1,"status":2,"screenshot":%q}`+"\n", shot)
	before := time.Now()
	if _, err := conn.Exec(t.Context(), "UPDATE public.service SET status_id = 2 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	moved := next("moved")
	took := time.UnixMilli(int64(moved["at_ms"].(float64))).Sub(before)
	t.Logf("card #1 moved to In progress %v after the UPDATE was sent", took)
	if took > time.Second {
		t.Errorf("the card took %v to move, want under a second", took)
	}
	next("screenshot")
	t.Logf("screenshot: %s", shot)

	// The board's own buttons: they write through the demo's API, and the
	// card moves when the gateway delivers the committed change.
	fmt.Fprintln(stdin, `{"cmd":"click","card":3,"d":1}`)
	fmt.Fprintln(stdin, `{"cmd":"expect","card":3,"status":2}`)
	next("clicked")
	next("moved")
	t.Log("card #3 moved to In progress by its button")
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		png, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "docs", "statusboard.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
