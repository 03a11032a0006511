// Package migrate owns the objects of the `realtime` schema that private
// channels and broadcast from the database need, with the names and shapes
// of Supabase's: the daily-partitioned table realtime.messages,
// realtime.topic(), realtime.send(), realtime.send_binary(),
// realtime.broadcast_changes(), and the publication
// supabase_realtime_messages_publication.
//
// Migrations are versioned and recorded in realtime.gateway_migrations, a
// table of this gateway's own: Supabase's server keeps its own history in
// realtime.schema_migrations, which this package never reads or writes.
// Every migration only creates what is missing, so a database Supabase's
// server already set up keeps its objects as they are (nothing is dropped
// or replaced), and one without them gets them.
//
// Run applies pending migrations in one transaction under an advisory lock,
// so gateways starting together apply each migration once. Check is for
// users who manage the schema themselves (REALTIME_MIGRATIONS=false): it
// names what is missing. Janitor is the goroutine that keeps partitions
// ahead of time and drops those older than the retention.
package migrate
