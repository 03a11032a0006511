package cluster

import (
	"context"
)

// A Node is the gateway's Relay: the hub calls the methods below from its
// own goroutines (joins, leaves, broadcasts, presence), some under its
// lock, so none of them waits for the hub.

func (n *Node) subjectsOf(in Interest) []string {
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
func (n *Node) Watch(ctx context.Context, in Interest) error {
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
		sync := roomRefWire(*in.Room)
		n.publishJSON(n.subj.presence(in.Room.Topic), presenceWire{Node: n.cfg.NodeID, Sync: &sync})
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		n.Unwatch(in)
		return err
	}
	return nil
}

// Unwatch ends a Watch; subjects nobody here needs any more are left.
func (n *Node) Unwatch(in Interest) {
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
func (n *Node) PublishRoom(m RoomMessage) {
	n.publishJSON(n.subj.room(m.Room.Topic), encodeRoom(m))
}

// PublishPresence sends a change of local presence to the nodes watching
// its room.
func (n *Node) PublishPresence(p PresenceDiff) {
	p.Node = n.cfg.NodeID
	n.publishJSON(n.subj.presence(p.Room.Topic), presenceWire{Node: n.cfg.NodeID, Diff: encodePresence(p)})
}
