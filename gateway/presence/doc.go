// Package presence keeps the presence of one room, as Phoenix Presence
// shows it to realtime-js: the metas tracked under each presence key, by
// local owners (the sockets of this gateway) and by other gateways of a
// cluster. It makes the diffs a track, an untrack or a cluster message
// causes, renders presence_state and presence_diff payloads, converts
// between its metas and the cluster's PresenceEntry values, and makes the
// refs and keys Phoenix would.
//
// It knows nothing of sockets or rooms' members: an owner is any
// comparable value (the gateway uses its *conn), and the caller delivers
// the diffs.
//
// # Concurrency
//
// A State is not safe for concurrent use. The gateway keeps one per room
// and guards it with the hub's lock: write-locked by the socket readers
// that track and untrack, by joins and leaves, and by the cluster's
// callbacks; read-locked to render presence_state for a join and to share
// the whole state with the cluster. A Diff is a value its caller owns.
package presence
