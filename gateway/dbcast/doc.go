// Package dbcast vets and counts broadcast from the database: every INSERT
// into realtime.messages that the stream brings (publication
// supabase_realtime_messages_publication) is a broadcast to the room of
// its topic, public or private as the row says. Accept turns such a row
// into the broadcast to route, or drops it with a reason that is counted
// and logged; the core does the routing, in commit order with the rest of
// the transaction. ReadyStatus answers a join's replication_ready option.
// Stats also counts private joins refused by their read check, since both
// are exposed together.
//
// # Concurrency
//
// Stats is all atomics: the router calls Accept (under the hub's read
// lock, which Accept never needs), sockets' readers count refused joins,
// and Prometheus collects from its own goroutines.
package dbcast
