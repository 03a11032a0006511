package cluster

import (
	"context"
	"encoding/json"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/replication"
)

// The values below are what the gateway's hub and a Node hand each other.
// They are plain Go values: how they travel between nodes is this
// package's business (wire.go), not theirs.

// Interest is what one channel needs from the cluster.
type Interest struct {
	// Tables are the tables whose changes the channel may match: Schema or
	// Table is filters.Wildcard for any.
	Tables []TableRef
	// Room is the channel's broadcast and presence room, if it has one.
	Room *RoomRef
}

// TableRef names a table, or with wildcards a set of them.
type TableRef struct{ Schema, Table string }

// AddTable adds the table of a subscription, whose empty table means every
// table of the schema.
func (in *Interest) AddTable(schema, table string) {
	if table == "" {
		table = filters.Wildcard
	}
	in.Tables = append(in.Tables, TableRef{Schema: schema, Table: table})
}

// SetRoom gives the interest a room. Broadcasts from the database reach a
// room as changes of realtime.messages, or of its daily partitions, so a
// room needs the realtime schema's changes too.
func (in *Interest) SetRoom(r RoomRef) {
	in.Room = &r
	in.Tables = append(in.Tables, TableRef{Schema: "realtime", Table: filters.Wildcard})
}

// RoomRef names a room: public and private channels of one topic differ.
type RoomRef struct {
	Private bool
	Topic   string
}

// RoomMessage is a broadcast in a form every gateway can deliver.
type RoomMessage struct {
	Room RoomRef
	// JSON is the payload of a JSON broadcast push ({"event","payload","type"}).
	JSON json.RawMessage
	// Binary is a user broadcast sent in a binary frame (vsn 2.0.0).
	Binary *BinaryBroadcast
	// ID is the id of a stored (persisted) broadcast: a member that has
	// just replayed it does not get it again.
	ID string
}

// BinaryBroadcast is the content of a binary user broadcast.
type BinaryBroadcast struct {
	Event    string
	Metadata []byte
	Encoding byte
	Payload  []byte
}

// PresenceDiff is one gateway's presence joins and leaves in a room.
type PresenceDiff struct {
	Room RoomRef
	// Node is the gateway the presences live on. A Node fills it in on
	// the way out and from the message on the way in.
	Node string
	// Full says Joins is all of Node's presence in the room: what is not in
	// it has left. Gateways send it to a gateway that just joined the room.
	Full   bool
	Joins  []PresenceEntry
	Leaves []PresenceEntry
}

// PresenceEntry is one tracked presence: its key, its phx_ref and its meta
// (the tracked payload with phx_ref in it).
type PresenceEntry struct {
	Key  string
	Ref  string
	Meta json.RawMessage
}

// Hub is the local side of a Node: what the node drives while it runs.
// The gateway's *gateway.Hub implements it. Declaring it here, rather than
// importing gateway, keeps the import arrow pointing one way: gateway
// imports cluster, never the reverse.
type Hub interface {
	// Run routes the batches the node feeds it until in is closed or ctx
	// is done.
	Run(ctx context.Context, in <-chan replication.Batch)
	// DeliverRoom hands a broadcast from another gateway to local members.
	DeliverRoom(m RoomMessage)
	// SharePresence sends this gateway's whole presence in a room to the
	// cluster (through the node's PublishPresence).
	SharePresence(room RoomRef)
	// ApplyPresence takes another gateway's presence change in a room.
	ApplyPresence(p PresenceDiff)
	// ForgetNode drops the presence of a gateway that left or went silent.
	ForgetNode(node string)
	// NotifyGap tells subscribers that changes may be missing, and why.
	NotifyGap(why string)
}
