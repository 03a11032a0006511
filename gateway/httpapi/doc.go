// Package httpapi serves every HTTP route of the gateway but the socket:
// the Supabase Realtime 2.x server's POST /api/broadcast (a batch of
// broadcasts), POST /api/broadcast/{topic}/events/{event} (realtime-js
// httpSend, JSON or binary, with ?private and ?persist), both also under
// /realtime/v1/api/, and GET /api/tenants/{tenant}/health, the admin route
// Supabase's compose file uses as the container health check; and our own
// GET /health (and /), which fails with 503 while changes are not flowing,
// and, with EXPOSE_METRICS, GET /metrics in the Prometheus format.
// In front of the whole server it puts the guards: CORS for API paths,
// and with SEED_SELF_HOST the tenant named by the request's Host
// (TenantOf), for API requests and sockets alike, each refused in its
// own shape. Statuses, bodies and headers are the 2.x server's.
//
// It owns the requests and the answers; everything behind them is the
// core's, reached through the small Core interface declared here: verify a
// token, run an RLS write check, store a broadcast for replay, hand a
// message to the room's members, count a refused socket, and snapshot its
// counters (Stats), which /health, /metrics and the admin route render.
// The core's own collectors (the hub's latency histogram and the like)
// come in Config.Collectors. The core (package gateway) implements Core,
// mounts the routes (Register) and wraps its handler (Wrap); this package
// imports nothing of it.
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
