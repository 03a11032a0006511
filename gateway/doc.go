// Package gateway is the server's core: the WebSocket endpoint, one conn per
// socket, the channels a socket joins (1.x topic subscriptions,
// postgres_changes bindings, broadcast and presence rooms, private channels),
// and the Hub that routes every change, broadcast and presence diff to them.
// The concepts around it live in subpackages: payload (how a change
// renders), token (JWTs), authz (who may see a row), policy (private
// channels' checks and stored broadcasts), migrate (the realtime schema),
// cluster (several gateways as one), httpapi (the REST routes) and wsconn
// (a socket's WebSocket I/O: framing, corked and non-blocking writes).
// Configuration comes from cmd/realtime as Options and HubOptions; nothing
// here reads the environment.
//
// # Goroutines
//
//   - The router, Hub.Run: one per process. It takes replication Batches in
//     commit order, routes each change under the hub's read lock, and
//     confirms a commit once all its frames are queued. It owns the routing
//     scratch space (deliveries, the shared payloads, the stalled queues),
//     the column caches and, with secure channels, the authorizer and its
//     refresher. It never does I/O under the lock; after releasing it, it
//     may wait for sockets whose queues are full, but only when most of a
//     batch's sockets are behind (a bulk write: the wait is backpressure on
//     the WAL), or at most minorityWait per batch for a few laggards, which
//     are otherwise let past their limit and closed after the grace.
//   - A socket's reader, conn.run: one per socket, for its lifetime. It
//     owns the socket's channels and its join rate, and takes the hub's
//     write lock to join and leave. A join may block on I/O (the catalog
//     for table and column checks, the RLS checks of a private channel, a
//     replay, the cluster's first slot): that blocks this socket only.
//     While idle it waits for the socket to become readable on a shallow
//     stack (wsconn.Conn.Read). It reads the socket itself
//     (conn.sock), not through the writer's transport.
//   - The router's writers: after each routing pass, outside the lock, the
//     router writes the sockets whose queues that pass filled from empty
//     (claimed in conn.tryPush): its share itself, the rest on one
//     long-lived helper per spare CPU (routedWriters, started and stopped
//     by Hub.Run). These writes never wait for a client (writeNow): a
//     socket that does not take everything at once, or is closing, or
//     keeps refilling, is handed to a writer goroutine of its own.
//   - A socket's writer, conn.drain: started when a frame is queued for a
//     socket nobody writes (replies, broadcasts, presence, or a socket
//     handed over by the router's writers), gone once the queue has stayed
//     empty for writerLinger (100 ms). It takes the whole queue and hands
//     it as one batch to the socket's transport, then the close: in
//     production the socket's wsconn.Conn, which frames the batch into one
//     write (after what WriteNow left behind); in benchmarks and routing
//     tests a sink without a network. Whoever writes a socket's queue holds
//     its claim (conn.writing): never two at once, so frames keep their
//     order.
//   - Expiry timers: one time.AfterFunc per socket with a token, which
//     closes the channels whose token expired.
//   - Cluster callbacks: the cluster node delivers rooms' messages and
//     presence from its own goroutines, through the hub's lock like a
//     reader.
//
// # Locks
//
// Hub.mu guards the subscription indexes, the rooms and the channel maps:
// read-locked by the router and by room deliveries, write-locked by joins
// and leaves. conn.mu guards a socket's queue and closing state;
// wsconn orders writes on the connection (our frames and coder/websocket's
// control frames) with a lock of its own; expiries have their own. The order is
// the hub's lock before a socket's: code holding conn.mu never takes
// Hub.mu.
//
// # Stopping
//
// Every goroutine has an owner: Hub.Run ends with its context, after its
// writers finish what they were handed; a socket's writers, and the
// router's claims on it, end before its reader returns (conn.run waits
// for them, in conn.writers), and
// Server.CloseSockets waits for every reader. A frame handed to a socket's
// queue before routing stopped is written before the socket closes on
// shutdown.
package gateway
