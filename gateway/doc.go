// Package gateway is the server's core: the WebSocket endpoint, one conn per
// socket, the channels a socket joins (1.x topic subscriptions,
// postgres_changes bindings, broadcast and presence rooms, private channels),
// and the Hub that routes every change, broadcast and presence diff to them.
// The concepts around it live in subpackages, each with its own doc:
// payload (how a change renders), token (JWTs), authz (who may see a row),
// policy and private (private channels' checks, stored broadcasts),
// dbcast (broadcast from the database), join (admitting a join), presence,
// broadcast (user broadcasts), expiry (token expiries), migrate (the
// realtime schema), cluster (several gateways as one), httpapi (every HTTP
// route but the socket's, their guards, /health and /metrics), outbox (what a socket has yet to be sent, its writers and the
// slow-consumer policy) and wsconn (a socket's WebSocket I/O).
// Configuration comes from cmd/realtime as Options and HubOptions; nothing
// here reads the environment.
//
// # Goroutines
//
//   - The router, Hub.Run: one per process. It takes replication Batches in
//     commit order, routes each change under the hub's read lock, and
//     confirms a commit once all its frames are queued. It owns the routing
//     scratch space (deliveries, the shared payloads, the outbox.Router), the
//     column caches and, with secure channels, the authorizer, its refresher
//     and authz.GatherRounds's queue, where the next round of batches gathers
//     while one is checked. Under the lock it only queues
//     (outbox.Router.Deliver); after it (outbox.Router.Flush) it has the
//     sockets it filled written, without waiting for any client, by one
//     helper per CPU (a handful it writes itself), and may wait for sockets whose queues are full:
//     only when most of a batch's sockets are behind (a bulk write: the wait
//     is backpressure on the WAL), or at most outbox.MinorityWait per batch
//     for a few laggards, which are otherwise let past their limit and closed
//     after the grace.
//   - A socket's reader, conn.run: one per socket, for its lifetime. It
//     owns the socket's channels and its join rate, and takes the hub's
//     write lock to join and leave. A join may block on I/O (the catalog
//     for table and column checks, the RLS checks of a private channel, a
//     replay, the cluster's first slot): that blocks this socket only.
//     While idle it waits for the socket to become readable on a shallow
//     stack (wsconn.Conn.Read). It reads the socket itself (conn.sock),
//     not through its outbox's transport.
//   - A socket's writer (outbox.Box's drain): started when a frame is
//     queued for a socket nobody writes (replies, broadcasts, presence), or
//     when a routed write could not send everything; gone once the queue
//     has stayed empty for 100 ms. In production its transport is the
//     socket's wsconn.Conn; in benchmarks and routing tests a sink without
//     a network (sinkTransport).
//   - Expiry timers: one timer per socket with a token (gateway/expiry),
//     which closes the channels whose token expired.
//   - Cluster callbacks: the cluster node delivers rooms' messages and
//     presence from its own goroutines, through the hub's lock like a
//     reader.
//
// # Locks
//
// Hub.mu guards the subscription indexes, the rooms and the channel maps:
// read-locked by the router and by room deliveries, write-locked by joins
// and leaves. A socket's outbox.Box guards its queue and closing state with
// its own lock, the innermost: code holding it takes no other. wsconn
// orders writes on the connection (our frames and coder/websocket's
// control frames); expiries have their own lock. The order is the hub's
// lock before a socket's.
//
// # Stopping
//
// Every goroutine has an owner: Hub.Run ends with its context, after the
// router's helpers finish what they were handed; a socket's writers, and
// the router's claims on it, end before its reader returns (conn.finish
// waits for them, outbox.Box.Finish), and Server.CloseSockets waits for
// every reader. A frame handed to a socket's queue before routing stopped
// is written before the socket closes on shutdown.
package gateway
