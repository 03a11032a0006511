// Package httpapi serves the gateway's HTTP API, the routes of the
// Supabase Realtime 2.x server that are not the socket: POST /api/broadcast
// (a batch of broadcasts), POST /api/broadcast/{topic}/events/{event}
// (realtime-js httpSend, JSON or binary, with ?private and ?persist), both
// also under /realtime/v1/api/, and GET /api/tenants/{tenant}/health, the
// admin route Supabase's compose file uses as the container health check.
// In front of the whole server it puts the API's guards: CORS for API
// paths, and with SEED_SELF_HOST the tenant named by the request's Host
// (TenantOf). Statuses, bodies and headers are the 2.x server's.
//
// It owns the requests and the answers; everything behind them is the
// core's, reached through the small Core interface declared here: verify a
// token, run an RLS write check, store a broadcast for replay, hand a
// message to the room's members, and report liveness and sockets. The
// core (package gateway) implements Core, mounts the routes (Register) and
// wraps its handler (Wrap); this package imports nothing of it. The
// socket's own tenant check stays in the core, since its answer and its
// counter are the socket's.
//
// # Concurrency
//
// An API is immutable after New and serves requests concurrently on
// net/http's goroutines; it starts none of its own. Each request calls
// Core once or a few times and never waits on a socket: Core.Send hands
// the message to the hub, which queues it for each member without
// blocking. A write check or a store waits for the database within the
// core's own timeouts.
package httpapi
