// Command realtime is the gateway binary: a drop-in replacement for the
// supabase/realtime server that streams PostgreSQL changes to realtime-js
// clients over WebSockets.
//
//	realtime [serve]   run the gateway, configured from the environment
//	realtime demo      start a throwaway local PostgreSQL with the status-board
//	                   schema and run the gateway on it
//	realtime health    exit 0 when the local gateway is live
//	realtime version   print the version
//
// # What it owns
//
// The process: the environment and its meaning (config.go reads every
// variable, with its default and the error that names it; selfhost.go the
// names of the 2.x image), the logger, the signals, and the order in which
// the parts start and stop. It owns no logic of the gateway: options.go
// turns Config into each package's options at construction, and nothing
// is attached to a part after it is built. Config is read-only once
// FromEnv returns.
//
// # Concurrency
//
// main waits in run, which owns every goroutine it starts and waits for
// them all (one sync.WaitGroup) before it returns:
//
//   - the replication stream (Stream.Run), and the hub's routing (Hub.Run)
//     after the rejoin grace; or, with CLUSTER_NATS_URL, the cluster node
//     (Node.Run), which runs the hub's routing and its own goroutines (see
//     package cluster);
//   - the HTTP server's accept loop, whose sockets the gateway.Server owns;
//   - the partition janitor, when the realtime schema is managed here;
//   - the pprof listener, when PPROF=true.
//
// SIGINT or SIGTERM cancels run's context, and run shuts down in the order
// that loses nothing: stop accepting (within 2 s), stop routing and wait
// for the batch being routed, let sockets write what they were handed and
// close them with 1001 (within SHUTDOWN_DRAIN_MS), then stop replication
// with a final confirmation and wait for every goroutine. That last wait
// has no bound of its own: the stream bounds the closing of its
// connection itself (package replication).
package main
