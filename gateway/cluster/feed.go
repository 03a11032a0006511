package cluster

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/nats-io/nats.go"

	"github.com/pgrealtime/realtime/replication"
)

// position is where a node is in the cluster's one stream of changes:
// (final LSN of the transaction, index of the change in it).
type position struct {
	final pglogrepl.LSN
	index int
	set   bool
}

// admit drops the changes of b at or before p (already routed: a new slot
// holder replays from the slot's confirmed LSN, and overlapping
// subscriptions deliver a message twice) and moves p past the rest.
func (p *position) admit(b replication.Batch) replication.Batch {
	if len(b.Changes) == 0 {
		return b
	}
	if p.set {
		skip := 0
		for skip < len(b.Changes) && (b.FinalLSN < p.final || b.FinalLSN == p.final && b.First+skip <= p.index) {
			skip++
		}
		b.Changes = b.Changes[skip:]
		b.First += skip
	}
	if len(b.Changes) > 0 {
		*p = position{final: b.FinalLSN, index: b.First + len(b.Changes) - 1, set: true}
	}
	return b
}

// feed is the one goroutine that hands changes to the hub, in order: the
// slot holder's own batches and the runs other nodes published. It also
// delivers room messages and presence, and keeps track of the other nodes.
func (n *Node) feed(ctx context.Context, hub Hub, out chan<- replication.Batch) {
	dec := newRunDecoder()
	var pos position
	peers := map[string]time.Time{}
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	route := func(b replication.Batch) {
		b = pos.admit(b)
		if len(b.Changes) == 0 && !b.Gap {
			return
		}
		select {
		case out <- b:
		case <-ctx.Done():
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-n.local:
			route(b)
		case why := <-n.lost:
			hub.NotifyGap(why)
		case now := <-tick.C:
			for id, seen := range peers {
				if now.Sub(seen) > peerTimeout {
					n.log.Warn("cluster node stopped answering; dropping its presence", "peer", id, "silent_for", now.Sub(seen).Round(time.Millisecond))
					delete(peers, id)
					hub.ForgetNode(id)
				}
			}
		case m := <-n.inbox:
			switch {
			case n.subj.isChanges(m.Subject):
				r, err := dec.decode(m.Data)
				if err != nil {
					n.log.Error("dropping a change message from the cluster", "subject", m.Subject, "err", err)
					hub.NotifyGap("A change from the cluster could not be read: changes may be missing. Refetch to be sure.")
					continue
				}
				route(replication.Batch{Changes: r.changes, FinalLSN: r.final, First: r.first})
			case n.subj.isRoom(m.Subject):
				var rm roomWire
				if n.unmarshal(m, &rm) {
					hub.DeliverRoom(rm.decode())
				}
			case n.subj.isPresence(m.Subject):
				var pw presenceWire
				if !n.unmarshal(m, &pw) {
					continue
				}
				if pw.Sync != nil {
					hub.SharePresence(RoomRef(*pw.Sync))
				}
				if pw.Diff != nil {
					pw.Diff.Node = pw.Node
					hub.ApplyPresence(pw.Diff.decode())
				}
			case m.Subject == n.subj.nodes():
				var hb heartbeat
				if !n.unmarshal(m, &hb) || hb.Node == "" || hb.Node == n.cfg.NodeID {
					continue
				}
				n.heard(hub, hb, peers)
			}
		}
	}
}

func (n *Node) heard(hub Hub, hb heartbeat, peers map[string]time.Time) {
	if hb.Bye {
		n.log.Info("cluster node left", "peer", hb.Node)
		delete(peers, hb.Node)
		hub.ForgetNode(hb.Node)
		return
	}
	if _, known := peers[hb.Node]; !known {
		n.log.Info("cluster node joined", "peer", hb.Node)
	}
	peers[hb.Node] = time.Now()
	if hb.Gap != "" {
		hub.NotifyGap(hb.Gap)
	}
	if hb.Leader != nil && n.leading.Load() == nil {
		n.seenOther.Store(true)
		n.setStatus(*hb.Leader)
	}
}

func (n *Node) unmarshal(m *nats.Msg, v any) bool {
	if err := json.Unmarshal(m.Data, v); err != nil {
		n.log.Warn("ignoring a malformed cluster message", "subject", m.Subject, "err", err)
		return false
	}
	return true
}
