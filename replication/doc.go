// Package replication owns the gateway's one logical replication stream: it
// checks that PostgreSQL is set up for it (wal_level, publications, the
// REPLICATION attribute), creates or reuses the slot, decodes pgoutput
// (protocol version 1) into Change values, hands them to one consumer in
// Batches, confirms LSNs to PostgreSQL and reconnects on failure.
//
// # Concurrency
//
// Stream.Run is the only goroutine that touches the replication connection,
// because a pgconn.PgConn is not safe for concurrent use: it receives,
// decodes, hands Batches over a channel and sends every standby status
// update. Confirm, Status, WaitLive and Table are safe from any goroutine;
// Table and the lag monitor use a separate small connection pool.
//
// # Ack policy
//
// The flush position reported to PostgreSQL is what the consumer confirmed
// (Stream.Confirm with a Batch's CommitLSN, once it has taken the batch) and
// never more, so WAL is released only for transactions the consumer has. One
// exception keeps an idle slot from pinning WAL on a busy database: when no
// transaction is open and every handed commit is confirmed, the server's WAL
// end from a keepalive is confirmed too (nothing before it is owed to us).
// Delivery to the consumer is at-least-once across process crashes with a
// permanent slot (what was not confirmed is sent again) and exactly-once
// within one Stream: after a reconnect the stream asks PostgreSQL to start
// after the last transaction it handed out and also drops, in code, any
// transaction it already handed out, in full or in part.
//
// # Slot lifetime
//
// A permanent slot (Config.SlotName set) survives disconnects and restarts of
// both sides, so nothing committed is lost; it also retains WAL while the
// gateway is down (see Config.MaxLagMB and Status.LagBytes). A temporary slot
// (the default, as in the original) exists only as long as its connection: a
// new one is created on every connect, changes committed in between are lost,
// and the first Batch after such a break has Gap set.
//
// # Ordering
//
// Transactions reach the consumer in commit order, and the changes of a
// transaction in WAL order. A large transaction is streamed in Batches of at
// most Config.BatchSize changes, never buffered whole; only its last Batch
// has Commit set. A slow consumer blocks the stream (backpressure lands on
// the WAL), while standby status updates keep the connection alive.
//
// One consequence of the ack policy: a fast shutdown of PostgreSQL waits
// until the stream has confirmed all WAL sent to it. With a consumer that
// confirms what it takes this is immediate (the idle rule above applies as
// soon as the last commit is confirmed); a consumer that stopped confirming
// delays the shutdown until the stream stops, as a stalled standby would.
package replication
