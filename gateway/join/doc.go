// Package join owns admitting a phx_join: every reason a join can be
// refused, with its client-facing text and its code, and the counter and
// log line each refusal gets.
//
// # Concurrency
//
// A Refusal is immutable. A Counter is safe for concurrent use: every
// socket's reader counts its refusals with atomic adds, and a metrics
// scrape reads them on its own goroutine.
package join
