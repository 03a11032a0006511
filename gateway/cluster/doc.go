// Package cluster runs several gateways as one, over NATS. One node at a
// time holds the replication slot (elected with a PostgreSQL advisory
// lock), decodes every change once and publishes it to NATS subjects by
// schema and table; every node subscribes to what its own channels need and
// fans out locally. Broadcasts and presence travel the same way, by room.
//
// What it owns: the NATS connection and its subscriptions, the election,
// the slot holder's stream, the order in which changes reach the local hub
// (dropping what a failover replays), the liveness of the other nodes, and
// the wire format of everything it carries (codec.go for changes, wire.go
// for rooms and presence). The values it exchanges with the hub
// (message.go) are plain Go values with no encoding of their own.
//
// # Imports
//
// The arrow points from gateway to cluster, never back: package gateway
// imports cluster, and cluster imports only replication and filters. The
// seam is two small interfaces, each declared by its caller: gateway.Relay
// is what the hub asks of a Node (Watch, Unwatch, PublishRoom,
// PublishPresence), and Hub, here, is what a Node drives in the hub (Run,
// DeliverRoom, SharePresence, ApplyPresence, ForgetNode, NotifyGap). So
// construction has no cycle either: New(cfg) needs no hub, the hub is
// built with the node as its relay, and Run(ctx, hub) is handed the hub.
//
// # Concurrency
//
// Run starts these goroutines and waits for all of them before it returns:
//
//   - the hub's routing (Hub.Run), fed by a channel of batches;
//   - feed, the one goroutine that hands the hub changes, in order: the
//     slot holder's own batches and the runs other nodes published. It
//     also delivers room messages and presence to the hub, and owns the
//     map of peers and their last heartbeat, the position in the stream
//     and the run decoder, none of which is shared;
//   - heartbeat, which publishes this node's liveness (and, on the slot
//     holder, the stream's status) every second;
//   - elect, which competes for the advisory lock and, while it holds it,
//     leads: it runs the replication stream and a guard of the lock's
//     session on goroutines of its own, and waits for them before it
//     gives the lock up.
//
// nats.go delivers subscribed messages on its own goroutines into one
// bounded inbox that feed drains; when feed falls behind the inbox fills,
// NATS drops messages for this node, and feed tells the hub's subscribers
// that changes may be missing. Shared state is small: the subscriptions
// by subject (mu, taken by Watch and Unwatch from the hub's goroutines),
// and atomics for the last status heard and the stream being led.
//
// Where it blocks: Watch waits for a round trip to NATS (bounded by its
// context), so a join is acknowledged only once its subjects flow.
// Unwatch, PublishRoom and PublishPresence wait for no answer, as the hub
// calls them under its lock: nats.go buffers publishes, writing a full
// buffer out inline, so only a stalled connection to NATS (up to its
// one-minute write timeout) can slow them. feed
// blocks when the hub's channel is full, and the slot holder blocks on
// feed, so a slow hub holds back the stream and the WAL rather than
// dropping its own changes. The slot holder confirms to PostgreSQL only
// what NATS has acknowledged.
package cluster
