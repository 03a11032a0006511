// Package join owns admitting a phx_join: every reason a join can be
// refused, with its client-facing text and its code, and the counter and
// log line each refusal gets; the per-socket join rate (Rate); the checks
// against the replication stream that hold a join until the first slot
// exists and refuse a subscription which could never deliver (Checker);
// reading the token a join carries (Token) and a realtime-js 2.x join's
// config (Config). The gateway's core runs a join in order and answers
// it; this package decides nothing about channels, rooms or routing.
//
// # Concurrency
//
// A Refusal is immutable. A Counter is safe for concurrent use: every
// socket's reader counts its refusals with atomic adds, and a metrics
// scrape reads them on its own goroutine. A Rate belongs to one socket's
// reader and has no lock. A Checker never changes after NewChecker and is
// shared by every socket's reader; a check may wait on the stream (up to
// lookupTimeout for a table, up to the caller's bound for the first slot),
// which blocks that socket's reader only. Checker.Binding writes to the
// binding it is given, which the caller's reader owns until it subscribes
// it.
package join
