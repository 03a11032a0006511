package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// Hub routes changes to the sockets subscribed to them. The subscription
// index sits behind one RWMutex: routing (one goroutine, Run) takes the read
// lock, joins and leaves take the write lock. Routing never blocks and never
// does I/O: it only appends frames to sockets' bounded queues.
type Hub struct {
	log     *slog.Logger
	confirm func(pglogrepl.LSN)

	mu    sync.RWMutex
	v1    *filters.Index[*conn]
	pg    *pgIndex
	rooms map[roomKey]*room

	// Owned by the Run goroutine.
	stalled    stalledQueues
	columns    map[uint32]cachedColumns
	buf        []byte
	deliveries []delivery

	// relay shares rooms and interests with a cluster; nil on a lone gateway.
	relay Relay

	stats hubStats
	// latency observes commit-to-queue time per routed change; may be nil.
	latency interface{ Observe(float64) }
	// maxRecordBytes marks larger changes TooLarge; 0 = no limit.
	maxRecordBytes int
}

type cachedColumns struct {
	rel  *replication.Relation
	json []byte
}

type hubStats struct {
	channels atomic.Int64
	// lag is the commit-to-route delay of the last routed transaction (ns).
	lag      atomic.Int64
	changes  atomic.Int64
	messages atomic.Int64
	bytes    atomic.Int64
	lastLSN  atomic.Uint64
}

// NewHub returns a hub that calls confirm with a transaction's commit LSN
// once it has handed every change of the transaction to the sockets' queues.
func NewHub(log *slog.Logger, confirm func(pglogrepl.LSN)) *Hub {
	if confirm == nil {
		confirm = func(pglogrepl.LSN) {}
	}
	return &Hub{log: log, confirm: confirm, v1: filters.NewIndex[*conn](), pg: newPGIndex(), rooms: map[roomKey]*room{}, columns: map[uint32]cachedColumns{}}
}

// Run routes batches until in is closed or ctx is done.
func (h *Hub) Run(ctx context.Context, in <-chan replication.Batch) {
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-in:
			if !ok {
				return
			}
			h.Route(b)
		}
	}
}

// Route hands one batch to the subscribed sockets, then confirms its commit.
// It must only be called from one goroutine at a time.
func (h *Hub) Route(b replication.Batch) {
	if b.Gap {
		h.notifyGap(gapMessage)
	}
	if len(b.Changes) > 0 {
		h.mu.RLock()
		for i := range b.Changes {
			if h.maxRecordBytes > 0 && b.Changes[i].RecordBytes() > h.maxRecordBytes {
				b.Changes[i].TooLarge = true
			}
			h.routeChange(&b.Changes[i])
			h.routeV2(&b.Changes[i])
		}
		h.mu.RUnlock()
		// Outside the lock, so joins and leaves go on meanwhile.
		h.stalled.flush()
		delay := time.Since(b.Changes[len(b.Changes)-1].CommitTime)
		h.stats.lag.Store(int64(delay))
		if h.latency != nil {
			h.latency.Observe(delay.Seconds())
		}
		h.stats.changes.Add(int64(len(b.Changes)))
	}
	if b.Commit {
		h.stats.lastLSN.Store(uint64(b.CommitLSN))
		h.confirm(b.CommitLSN)
	}
}

// routeChange renders the change once, and each frame once per (topic,
// serializer); every socket on that topic gets the same bytes.
func (h *Hub) routeChange(ch *replication.Change) {
	var payload []byte
	h.v1.Match(ch.Rel.Schema, ch.Rel.Table, matchRow(ch), func(subs *filters.Subscribers[*conn]) {
		if payload == nil {
			h.buf = appendV1Payload(h.buf[:0], ch, h.columnsOf(ch.Rel))
			// The payload is shared by frames that outlive this call.
			payload = append([]byte(nil), h.buf...)
		}
		var frames [2][]byte
		m := phoenix.Message{Topic: subs.Topic.Name, Event: ch.Op.String(), Payload: payload}
		subs.Each(func(c *conn) {
			i := c.codecIndex
			if frames[i] == nil {
				frames[i] = c.codec.Append(make([]byte, 0, len(payload)+len(m.Topic)+48), m)
			}
			if h.stalled.deliver(c, frames[i]) {
				h.stats.messages.Add(1)
				h.stats.bytes.Add(int64(len(frames[i])))
			}
		})
	})
}

func (h *Hub) columnsOf(rel *replication.Relation) []byte {
	if c, ok := h.columns[rel.ID]; ok && c.rel == rel {
		return c.json
	}
	c := cachedColumns{rel: rel, json: v1Columns(rel)}
	h.columns[rel.ID] = c
	return c.json
}

// subscribe registers a joined channel of c: its v1 topic, or its
// postgres_changes bindings and its broadcast/presence room. then runs under
// the write lock, after the subscription exists and before any change can be
// routed to it: the join reply queued there reaches the client before the
// first change, and "subscribed" is true when the client hears it.
func (h *Hub) subscribe(c *conn, ch *channel, then func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch.v1 != nil {
		h.v1.Add(*ch.v1, c)
	}
	for _, s := range ch.subs {
		h.pg.add(s)
	}
	if ch.room != nil {
		h.joinRoom(*ch.room, c, ch)
	}
	h.stats.channels.Add(1)
	then()
}

// setSubject replaces who a joined channel acts as, after a token refresh.
func (h *Hub) setSubject(ch *channel, subj *authz.Subject) {
	h.mu.Lock()
	ch.subj = subj
	h.mu.Unlock()
}

// unsubscribe removes a channel of c; then (optional) runs under the write
// lock, so no change for that channel is queued after what then queues.
func (h *Hub) unsubscribe(c *conn, ch *channel, then func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c, ch)
	if then != nil {
		then()
	}
}

func (h *Hub) removeLocked(c *conn, ch *channel) {
	// The expiry timer and the reader may both end a channel; only the
	// first removal may act, or it would remove a later join of the topic.
	if ch.removed {
		return
	}
	ch.removed = true
	h.stats.channels.Add(-1)
	if ch.v1 != nil {
		h.v1.Remove(ch.v1.Name, c)
	}
	for _, s := range ch.subs {
		h.pg.remove(s)
	}
	if ch.room != nil {
		h.leaveRoom(*ch.room, c)
	}
	if h.relay != nil {
		h.relay.Unwatch(interestOf(ch))
	}
}

// unsubscribeAll removes every channel of a closed socket.
func (h *Hub) unsubscribeAll(c *conn, channels map[string]*channel) {
	if len(channels) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range channels {
		h.removeLocked(c, ch)
	}
}

// gapMessage tells postgres_changes subscribers that the stream restarted
// on a new temporary slot, so changes committed in between were not kept.
const gapMessage = "Replication restarted on a new temporary slot: changes committed while it was disconnected may be missing. Set SLOT_NAME for a permanent slot that keeps them."

// notifyGap sends why as a system message to every channel with
// postgres_changes bindings. Only clients that lost something hear it.
func (h *Hub) notifyGap(why string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.log.Warn("replication gap: changes may have been lost", "reason", why)
	for k, r := range h.rooms {
		sub := strings.TrimPrefix(k.topic, filters.TopicPrefix)
		p, _ := json.Marshal(map[string]string{"extension": "postgres_changes", "status": "error", "message": why, "channel": sub})
		for c, ch := range r.members {
			if len(ch.subs) > 0 {
				c.send(phoenix.Message{JoinRef: ch.joinRef, Topic: k.topic, Event: phoenix.EventSystem, Payload: p})
			}
		}
	}
}

// stalledQueues holds the change frames of one Route call for sockets
// whose queues were full, in order, until the router has released the
// hub's lock and may wait for them.
type stalledQueues struct {
	frames map[*conn][][]byte
	order  []*conn
}

// deliver queues frame for c, or keeps it for flush when c's queue is full
// (or already has frames kept, which must stay in order). It returns false
// when c is closing.
func (s *stalledQueues) deliver(c *conn, frame []byte) bool {
	if kept, ok := s.frames[c]; ok {
		s.frames[c] = append(kept, frame)
		return true
	}
	switch c.tryPush(frame) {
	case pushClosed:
		return false
	case pushFull:
		if s.frames == nil {
			s.frames = map[*conn][][]byte{}
		}
		s.frames[c] = [][]byte{frame}
		s.order = append(s.order, c)
	}
	return true
}

// flush waits for each stalled socket in turn (each at most its grace).
func (s *stalledQueues) flush() {
	for _, c := range s.order {
		for _, f := range s.frames[c] {
			if !c.pushWait(f) {
				break
			}
		}
		delete(s.frames, c)
	}
	s.order = s.order[:0]
}
