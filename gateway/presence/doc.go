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
// and guards it with the hub's lock, taken for writing by whoever changes
// it (a socket's reader on track, untrack and leave, the expiry timer
// closing a channel, the cluster's callbacks) and by a join, which renders
// presence_state; for reading by the cluster's request for the whole
// state. A Diff is a value its caller owns.
package presence
