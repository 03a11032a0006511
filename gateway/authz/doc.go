// Package authz decides which subscribers may receive a row change, by
// asking PostgreSQL under each subscriber's role and JWT claims, as a
// SELECT by that user would be answered. It owns every SQL statement it
// runs and its own small connection pool, separate from the replication
// connection.
//
// # What is cached
//
// A Snapshot holds, for the published tables, whether RLS is enabled and
// the primary key, and for each role in use (Acquire/Release) the columns
// it may SELECT and whether it bypasses RLS (superuser or BYPASSRLS).
// Run re-reads it every 250 ms; routing never uses one older than 750 ms
// (Current reads one itself when the refresher is late). So a GRANT,
// REVOKE or ENABLE ROW LEVEL SECURITY applies to every change committed a
// second after it. Policies are never cached: they are evaluated by
// PostgreSQL on every check, so a policy change applies to the next change.
//
// # Who runs checks and how they are batched
//
// The hub's routing goroutine takes replication batches as routing rounds
// from GatherRounds (up to 128 queued batches or 1,024 changes; the next
// round gathers meanwhile in a bounded queue, on a goroutine GatherRounds
// owns and stops before it returns) and calls WaitVisible and Check for
// each round before delivering it, and only when the round has inserts or
// updates on a table with RLS that in-memory filters let through to a
// role that does not bypass RLS: rounds without RLS tables cost no
// database round trip. WaitVisible first waits until the round's
// transactions are visible to new snapshots (logical decoding sees a
// commit a moment before other sessions do). Check takes one Request per
// (table, distinct claims) with every primary key of the round for that
// subject, and sends them over Config.Conns connections at once, one
// pipelined read-only transaction each: per request, set_config of role,
// request.jwt.claims and the legacy request.jwt.claim.sub/.role (local to
// the transaction), then one statement that returns which of the keys the
// subject can SELECT (one pk = ANY($1) index scan; a LATERAL lookup per
// key for composite keys). Then ROLLBACK. Check fans out to at most Conns
// goroutines of its own and waits for them.
//
// A Round is that routing round as the hub sees it (round.go): it is made,
// filled and checked on the routing goroutine only (Add under the hub's
// read lock, Check without it), then read by the same goroutine while it
// routes; it is never shared, so it has no lock of its own. Collector
// exposes the Authorizer's counters; Prometheus calls it from its own
// goroutines, and it reads atomics only.
//
// # Failing closed
//
// A check that errors (a policy raised) or passes CheckTimeout answers
// "not visible": the transaction's requests are retried grouped by table,
// so only the failing table's rows are hidden, and a failing table's
// requests one by one when they are few (up to 16), to hide rows only
// from the subjects the policy fails for. The statement itself also
// checks current_user and the claims setting, so a setting that did not
// take effect hides rows rather than showing them. Client input never becomes SQL text: claims
// are parameters; table and column names come from the catalog, quoted.
package authz
