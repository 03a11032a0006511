// Package filters owns the grammar of subscriptions and the index that finds,
// for one row change, every subscription it matches without scanning them
// all.
//
// v1 topics ("realtime:*", "realtime:schema", "realtime:schema:table",
// "realtime:schema:table:column=eq.value") match as the original server
// matches them: by exact equality of the column's text (the text the v1
// payload carries), against the new row for INSERT and UPDATE and the old row
// for DELETE.
//
// The package knows nothing of sockets or SQL: a subscriber is any comparable
// value, and a row is anything that can list its columns' text.
package filters
