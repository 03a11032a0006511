// Package private is what a private channel (config.private=true) may do
// and keep: its members' read and write rights on its topic, as the RLS
// policies on realtime.messages decide them, and the broadcasts stored on
// it for replay, as realtime-js asks for them (persist metadata, the
// replay option of a join). The questions themselves are a Policy's
// (gateway/policy runs them in PostgreSQL); this package asks them with a
// deadline, logs why they refused, and remembers the answers per channel.
// With SECURE_CHANNELS off the core asks nothing: there is no
// authorization at all, as for everything else.
//
// # Concurrency
//
// A Gate is a value with no state of its own: any goroutine may ask
// through it, and a Policy must be safe for concurrent use (a socket's
// reader asks at join, at an access_token refresh and at its first
// broadcast or track; the HTTP API asks for each private message). An
// Access belongs to one channel: its read rights are set by the channel's
// reader (at join and at each token refresh) and read by the router and
// by other sockets' readers delivering broadcasts, hence atomics; its
// cached write answers are touched by the channel's reader only.
package private
