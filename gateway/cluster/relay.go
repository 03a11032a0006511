package cluster

import (
	"context"

	"github.com/pgrealtime/realtime/gateway"
)

// presenceWire is what travels on a room's presence subject.
type presenceWire struct {
	Node string `json:"node"`
	// Sync asks every node to send its whole presence in the room.
	Sync *gateway.RoomRef      `json:"sync,omitempty"`
	Diff *gateway.PresenceDiff `json:"diff,omitempty"`
}

func (n *Node) subjectsOf(in gateway.Interest) []string {
	out := make([]string, 0, len(in.Tables)+2)
	for _, t := range in.Tables {
		out = append(out, n.subj.changesOf(t))
	}
	if in.Room != nil {
		out = append(out, n.subj.room(in.Room.Topic), n.subj.presence(in.Room.Topic))
	}
	return out
}

// Watch subscribes to what in needs (once per subject, counted), asks the
// other nodes for their presence in a room new here, and returns after a
// round trip to NATS: from then on NATS delivers all of it to this node.
func (n *Node) Watch(ctx context.Context, in gateway.Interest) error {
	subs := n.subjectsOf(in)
	newRoom := false
	n.mu.Lock()
	for i, s := range subs {
		w := n.interest[s]
		if w == nil {
			sub, err := n.nc.ChanSubscribe(s, n.inbox)
			if err != nil {
				n.unwatchLocked(subs[:i])
				n.mu.Unlock()
				return err
			}
			w = &watched{sub: sub}
			n.interest[s] = w
			newRoom = newRoom || (in.Room != nil && s == n.subj.presence(in.Room.Topic))
		}
		w.refs++
	}
	n.mu.Unlock()
	if newRoom {
		// After the subscription on the same connection: NATS sees the
		// request after it, so every answer reaches this node.
		n.publishJSON(n.subj.presence(in.Room.Topic), presenceWire{Node: n.cfg.NodeID, Sync: in.Room})
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		n.Unwatch(in)
		return err
	}
	return nil
}

// Unwatch ends a Watch; subjects nobody here needs any more are left.
func (n *Node) Unwatch(in gateway.Interest) {
	subs := n.subjectsOf(in)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.unwatchLocked(subs)
}

func (n *Node) unwatchLocked(subs []string) {
	for _, s := range subs {
		w := n.interest[s]
		if w == nil {
			continue
		}
		if w.refs--; w.refs <= 0 {
			w.sub.Unsubscribe()
			delete(n.interest, s)
		}
	}
}

// PublishRoom sends a local broadcast to the nodes watching its room.
func (n *Node) PublishRoom(m gateway.RoomMessage) {
	n.publishJSON(n.subj.room(m.Room.Topic), m)
}

// PublishPresence sends a change of local presence to the nodes watching
// its room.
func (n *Node) PublishPresence(p gateway.PresenceDiff) {
	p.Node = n.cfg.NodeID
	n.publishJSON(n.subj.presence(p.Room.Topic), presenceWire{Node: n.cfg.NodeID, Diff: &p})
}
