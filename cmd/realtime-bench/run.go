package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/test/localpg"
)

const schema = `
CREATE TABLE IF NOT EXISTS public.bench (id bigserial PRIMARY KEY, k int NOT NULL, seq bigint NOT NULL, pad text);
CREATE TABLE IF NOT EXISTS public.bench_burst (id bigserial PRIMARY KEY, k int NOT NULL, seq bigint NOT NULL, pad text);
CREATE TABLE IF NOT EXISTS public.bench_bare (id bigserial PRIMARY KEY, k int NOT NULL, seq bigint NOT NULL, pad text);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'realtime_bench') THEN
    CREATE PUBLICATION realtime_bench FOR TABLE public.bench, public.bench_burst;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'realtime_bench_bare') THEN
    CREATE PUBLICATION realtime_bench_bare FOR TABLE public.bench_bare;
  END IF;
END $$;`

// rlsSchema is what a Supabase project has for the RLS mode: the roles, a
// policy showing a row to the user whose sub is its k. The claims are read
// once per statement, as Supabase advises ((select ...) around auth calls).
const rlsSchema = `
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT SELECT ON public.bench TO authenticated;
ALTER TABLE public.bench ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS own_rows ON public.bench;
CREATE POLICY own_rows ON public.bench FOR SELECT TO authenticated
  USING (k = (SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::int));`

// benchSecret signs the users' tokens in the RLS mode.
const benchSecret = "realtime-bench-secret-realtime-bench-secret"

// pad makes rows the size of a small real row (a name, a status, a date).
var pad = strings.Repeat("x", 64)

func run(ctx context.Context, o options, log *slog.Logger) (*report, error) {
	if o.sockets < 1 || o.rate < 0 || o.batch < 1 || o.writers < 1 || o.keys < 1 || o.slow < 0 || o.slow >= o.sockets || o.slowShare < 0 {
		return nil, errors.New("want -sockets >= 1, -rate >= 0, -batch >= 1, -writers >= 1, -keys >= 1, 0 <= -slow < -sockets, -slow-share >= 0")
	}
	if o.idle {
		o.rate = 0 // -idle was parsed but ignored before: it wrote at -rate
	}
	if o.slowShare == 0 {
		o.slowShare = 0.01 // the flag's default, for callers that build options themselves
	}
	raiseFileLimit(log)
	rep := &report{Options: o.summary(), Host: hostInfo()}

	dbURL := o.dbURL
	if dbURL == "" {
		log.Info("starting a throwaway PostgreSQL")
		cluster, err := localpg.Start(ctx)
		if err != nil {
			return nil, err
		}
		defer cluster.Close()
		dbURL = cluster.ConnString("postgres")
	}
	if err := exec1(ctx, dbURL, schema); err != nil {
		return nil, fmt.Errorf("bench schema: %w", err)
	}
	rlsSQL := "ALTER TABLE public.bench DISABLE ROW LEVEL SECURITY"
	if o.rls {
		rlsSQL = rlsSchema
	}
	if err := exec1(ctx, dbURL, rlsSQL); err != nil {
		return nil, fmt.Errorf("bench RLS schema: %w", err)
	}
	// Row numbers restart at 0 every run (these tables are the tool's own).
	if err := exec1(ctx, dbURL, "TRUNCATE public.bench, public.bench_burst, public.bench_bare"); err != nil {
		return nil, err
	}

	if o.burst > 0 {
		// Before the gateway starts, so that no other walsender shares
		// the CPU: PostgreSQL's own speed.
		log.Info("burst to a bare pgoutput consumer", "rows", o.burst)
		b, err := bareBurst(ctx, dbURL, o.burst)
		if err != nil {
			return nil, fmt.Errorf("bare pgoutput burst: %w", err)
		}
		rep.Bare = b
	}

	base, pid := o.gateway, o.pid
	if base == "" {
		g, err := startGateway(ctx, dbURL, o, log)
		if err != nil {
			return nil, err
		}
		defer g.stop()
		base, pid = g.base, g.cmd.Process.Pid
	}
	proc := procStats{pid: pid}
	rssBefore := proc.rss()

	log.Info("opening sockets", "sockets", o.sockets, "vsn", o.vsn)
	clients, err := openClients(ctx, base, o)
	if err != nil {
		return nil, err
	}
	defer closeClients(clients)
	time.Sleep(time.Second) // let the gateway settle before reading its memory
	if rssBefore > 0 && o.sockets >= minSocketsForRSS {
		rep.RSSPerSocketKiB = float64(proc.rss()-rssBefore) / 1024 / float64(o.sockets)
		if o.settle > time.Second {
			// Freed memory goes back to the OS in the background: the
			// handshakes' buffers (net/http's, dropped at the hijack)
			// are garbage by now, but still resident a second after.
			time.Sleep(o.settle - time.Second)
			rep.RSSPerSocketSettledKiB = float64(proc.rss()-rssBefore) / 1024 / float64(o.sockets)
			rep.SettleSeconds = o.settle.Seconds()
		}
	}

	if o.rate > 0 {
		log.Info("writing", "rate", o.rate, "batch", o.batch, "duration", o.duration)
		cpu0, wall0 := proc.cpu(), time.Now()
		w, err := write(ctx, dbURL, o)
		if err != nil {
			return nil, err
		}
		waitDelivered(ctx, clients, w, o, 15*time.Second)
		if cpu := proc.cpu(); cpu >= 0 && cpu0 >= 0 {
			rep.GatewayCPUPercent = 100 * (cpu - cpu0).Seconds() / time.Since(wall0).Seconds()
		}
		rep.GatewayRSSMiB = float64(proc.rss()) / (1 << 20)
		closeClients(clients) // the readers stop: their counters are ours now
		rep.addDelivery(clients, w, o)
		if o.slow > 0 {
			// A closed slow client may still be reading what the kernel
			// held for it when the run ends: the gateway's count says
			// whom it closed.
			rep.SlowClosedByGateway = scrapeCounter(base+"/metrics", `realtime_disconnects_total{reason="slow_consumer"}`)
		}
	} else {
		rep.GatewayRSSMiB = float64(proc.rss()) / (1 << 20)
	}
	rep.GatewayPeakRSSMiB = float64(proc.peakRSS()) / (1 << 20)

	if o.burst > 0 {
		log.Info("burst through the gateway to one socket", "rows", o.burst)
		g, err := gatewayBurst(ctx, dbURL, base, o.burst)
		if err != nil {
			return nil, fmt.Errorf("gateway burst: %w", err)
		}
		rep.Gateway = g
		if rep.Bare != nil && rep.Bare.RowsPerSec > 0 {
			rep.GatewayVsBare = g.RowsPerSec / rep.Bare.RowsPerSec
		}
	}
	return rep, nil
}

// scrapeCounter reads one sample from a Prometheus text page, or -1 when
// the page or the sample is missing (a gateway without EXPOSE_METRICS).
func scrapeCounter(url, sample string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}

func exec1(ctx context.Context, dbURL, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// raiseFileLimit lifts the soft open-files limit to the hard one: 10k
// sockets need 10k descriptors.
func raiseFileLimit(log *slog.Logger) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			log.Warn("cannot raise the open-files limit", "err", err)
		}
	}
}

type gatewayProcess struct {
	cmd  *exec.Cmd
	base string
	dir  string
}

// startGateway builds the gateway from this module and starts it on dbURL.
func startGateway(ctx context.Context, dbURL string, o options, log *slog.Logger) (*gatewayProcess, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "realtime-bench-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "realtime")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/realtime")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build the gateway: %v\n%s", err, out)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DB_HOST="+u.Hostname(), "DB_PORT="+u.Port(), "DB_NAME="+strings.TrimPrefix(u.Path, "/"),
		"DB_USER="+u.User.Username(), "DB_PASSWORD=postgres", "DB_SSL=false", fmt.Sprintf("PORT=%d", port),
		"SECURE_CHANNELS=false", `PUBLICATIONS=["realtime_bench"]`, "LOG_LEVEL=warning", "REALTIME_IP_VERSION=IPv4",
		"MAX_SOCKETS=0", "MAX_JOINS_PER_SECOND=0", "EXPOSE_METRICS=true")
	if o.rls {
		cmd.Env = append(cmd.Env, "SECURE_CHANNELS=true", "JWT_SECRET="+benchSecret)
	}
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	g := &gatewayProcess{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(g.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				log.Info("gateway live", "url", g.base, "pid", cmd.Process.Pid)
				return g, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			g.stop()
			return nil, errors.New("the gateway did not become live within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *gatewayProcess) stop() {
	g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		g.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(g.dir)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", errors.New("run realtime-bench from inside the repository (it builds ./cmd/realtime), or pass -gateway")
	}
	return filepath.Dir(mod), nil
}
