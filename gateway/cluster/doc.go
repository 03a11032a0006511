// Package cluster runs several gateways as one, over NATS. One node at a
// time holds the replication slot (elected with a PostgreSQL advisory
// lock), decodes every change once and publishes it to NATS subjects by
// schema and table; every node subscribes to what its own channels need and
// fans out locally. Broadcasts and presence travel the same way, by room.
//
// What it owns: the NATS connection and its subscriptions, the election,
// the slot holder's stream, the order in which changes reach the local hub
// (dropping what a failover replays), and the liveness of the other nodes.
package cluster
