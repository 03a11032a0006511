package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pgrealtime/realtime/gateway"
	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/gateway/migrate"
	"github.com/pgrealtime/realtime/replication"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// httpShutdownGrace bounds waiting for plain HTTP requests (health,
// broadcast API) at shutdown; sockets have their own bound, ShutdownDrain.
const httpShutdownGrace = 2 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx)
	case "demo":
		err = demo(ctx)
	case "health":
		err = health(ctx)
	case "version":
		fmt.Println(version)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		err = fmt.Errorf("unknown command %q: use serve, demo, health or version", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime:", err)
		if len(os.Args) == 1 {
			// Whoever typed a bare `realtime` may not know it means serve.
			fmt.Fprintln(os.Stderr, "\n(`realtime` with no command runs `serve`. To try it on a throwaway local PostgreSQL: `realtime demo`; all commands: `realtime --help`.)")
		}
		os.Exit(1)
	}
}

const usage = `usage: realtime [serve|demo|health|version]

serve    run the gateway, configured from the environment (see README); the default
demo     start a local PostgreSQL with the status-board schema and run the gateway on it
health   exit 0 when the gateway on $PORT is live (for container health checks)
version  print the version
`

func serve(ctx context.Context) error {
	cfg, err := FromEnv(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg)
	if ignored := IgnoredEnv(os.LookupEnv); len(ignored) > 0 {
		log.Info("ignoring settings of the supabase/realtime 2.x image that mean nothing to this gateway", "ignored", strings.Join(ignored, "; "))
	}
	return run(ctx, cfg, log, nil)
}

func newLogger(cfg Config) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// run serves until ctx is done, then shuts down in the order that loses
// nothing: stop accepting, stop routing (the position confirmed so far is
// then exactly what the sockets' queues were handed), let every socket
// write what it was handed and close with 1001 (within ShutdownDrain), and
// only then stop replication with a final confirmation of that position.
// ready, if not nil, is called with the listening address once the server
// accepts.
func run(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	pubs, dbcast := prepareSchema(ctx, cfg, log.With("component", "schema"))
	replCfg := cfg.replicationConfig(pubs, log)
	policy := cfg.policy(dbcast)
	if policy != nil {
		defer policy.Close()
	}
	replCtx, stopRepl := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRepl()
	// Routing stops before replication does, so that the final
	// confirmation covers only what reached the sockets.
	routeCtx, stopRouting := context.WithCancel(replCtx)
	defer stopRouting()
	routed := make(chan struct{})
	var wg sync.WaitGroup
	var srv *gateway.Server
	var status func() replication.Status
	authorizer, err := cfg.authorizer(log)
	if err != nil {
		return err
	}
	if cfg.ClusterNATSURL != "" {
		node, err := cluster.New(cfg.clusterConfig(replCfg, log))
		if err != nil {
			return err
		}
		// The slot holder confirms what NATS acknowledged, not the hub.
		hub := gateway.NewHub(cfg.hubOptions(log, authorizer, nil, node))
		if srv, err = gateway.NewServer(cfg.serverOptions(log, policy), hub, node); err != nil {
			return err
		}
		status = node.Status
		close(routed) // the node routes and confirms by NATS acknowledgement
		wg.Go(func() { node.Run(replCtx, hub) })
	} else {
		stream, err := replication.New(replCfg)
		if err != nil {
			return err
		}
		hub := gateway.NewHub(cfg.hubOptions(log, authorizer, stream.Confirm, nil))
		if srv, err = gateway.NewServer(cfg.serverOptions(log, policy), hub, stream); err != nil {
			return err
		}
		status = stream.Status
		batches := make(chan replication.Batch, 16)
		wg.Go(func() { stream.Run(replCtx, batches) })
		wg.Go(func() {
			defer close(routed)
			if cfg.RejoinGrace > 0 {
				// The permanent slot keeps what was committed while we were
				// down; give clients time to rejoin before routing it.
				log.Info("holding changes while clients reconnect", "grace", cfg.RejoinGrace)
				select {
				case <-time.After(cfg.RejoinGrace):
				case <-routeCtx.Done():
					return
				}
			}
			hub.Run(routeCtx, batches)
		})
	}
	if dbcast && cfg.Migrations {
		janitor := migrate.Janitor{ConnString: cfg.ConnString(), Logger: log.With("component", "janitor")}
		wg.Go(func() { janitor.Run(replCtx) })
	}
	ln, err := net.Listen(cfg.Listen())
	if err != nil {
		stopRepl()
		wg.Wait()
		return err
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	if cfg.PprofAddr != "" {
		wg.Go(func() {
			if err := servePprof(replCtx, cfg.PprofAddr, log); err != nil {
				log.Error("pprof server", "addr", cfg.PprofAddr, "err", err)
			}
		})
	}

	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- httpSrv.Serve(ln) })
	log.Info("realtime gateway listening", "addr", ln.Addr().String(), "slot", cfg.SlotName, "publications", cfg.Publications, "secure_channels", cfg.SecureChannels, "cluster", cfg.ClusterNATSURL != "")
	if ready != nil {
		ready(ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	began := time.Now()
	httpCtx, cancel := context.WithTimeout(context.Background(), httpShutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(httpCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	// A batch being routed is finished (a full socket queue makes that
	// wait at most SlowConsumerGrace); later batches stay unconfirmed in
	// the slot for the next start.
	stopRouting()
	<-routed
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownDrain)
	defer cancel()
	if err := srv.CloseSockets(drainCtx); err != nil {
		log.Warn("sockets did not take what they were sent within SHUTDOWN_DRAIN_MS; closed them anyway", "err", err)
	}
	stopRepl()
	wg.Wait()
	log.Info("stopped", "confirmed_lsn", status().ConfirmedLSN.String(), "took", time.Since(began).Round(time.Millisecond))
	return runErr
}

// health asks the local gateway whether it is live, for HEALTHCHECK in
// images that have no shell or curl.
func health(ctx context.Context) error {
	port := "4000"
	if p, ok := os.LookupEnv("PORT"); ok && p != "" {
		port = p
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not live: HTTP %d", resp.StatusCode)
	}
	return nil
}
