// Package filters owns the grammar of subscriptions and the indexes that
// find, for one row change, every subscription it matches without scanning
// them all. There are two kinds of subscription, each with its grammar and
// its index:
//
//   - Topic subscriptions, the joins without config of realtime-js 1.x:
//     ParseTopic reads "realtime:*", "realtime:schema",
//     "realtime:schema:table" or "realtime:schema:table:column=eq.value",
//     and TopicIndex matches them as the original server does: by exact
//     equality of the column's text (the text the topic payload carries),
//     against the new row for INSERT and UPDATE and the old row for DELETE.
//   - postgres_changes bindings, the entries of a realtime-js 2.x join
//     config: ParseBinding reads one ({"event", "schema", "table",
//     "filter", "select"}), ParseFilter its PostgREST-style filter, and
//     ChangesIndex matches them on typed values, comparing as PostgreSQL
//     compares the column's type once Condition.Bind knows it.
//
// The package is pure data and functions: it knows nothing of sockets or
// SQL. A subscriber is any value the caller chooses; a row is a Row or a
// replication.Change. No index is safe for concurrent use: one owner
// guards each (the gateway's hub, under its RWMutex, whose routing
// goroutine reads them while joins and leaves write them).
package filters
