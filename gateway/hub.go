package gateway

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/dbcast"
	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/replication"
)

// Hub routes changes to the sockets subscribed to them. The subscription
// index sits behind one RWMutex: routing (one goroutine, Run) takes the read
// lock, joins and leaves take the write lock. Under the lock routing never
// blocks and never does I/O: it only appends frames to sockets' bounded
// queues; after it, it writes them without waiting (outbox.Router).
type Hub struct {
	log     *slog.Logger
	confirm func(pglogrepl.LSN)

	mu      sync.RWMutex
	topics  *filters.TopicIndex[*conn]
	changes *filters.ChangesIndex[*changesSub]
	rooms   map[roomKey]*room

	// Owned by the Run goroutine.
	// out queues and writes what routing hands the sockets.
	out        outbox.Router
	columns    map[uint32]cachedColumns
	buf        []byte
	deliveries []delivery
	// changeSeq numbers the changes routeChanges saw; shared renders
	// the postgres_changes payloads of the current one, each distinct one
	// once.
	changeSeq uint64
	shared    payload.Shared

	// relay shares rooms and interests with a cluster; nil on a lone gateway.
	relay Relay
	// authz decides who may see which change (secure channels); nil lets
	// every change through (SECURE_CHANNELS=false).
	authz *authz.Authorizer
	// topicChans finds a topic subscriber's channel (for its subject).
	// Guarded by mu.
	topicChans map[topicKey]*channel

	stats hubStats
	// latency observes commit-to-queue time per routed change. The hub
	// owns it; httpapi serves it at /metrics.
	latency prometheus.Histogram
	// maxRecordBytes marks larger changes TooLarge; 0 = no limit.
	maxRecordBytes int
	// maxBroadcastBytes drops larger broadcasts from the database; 0 = no limit.
	maxBroadcastBytes int
	// db counts broadcasts from the database and private-channel refusals.
	db dbcast.Stats
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

// NewHub returns a hub configured by opts (see HubOptions for the zero
// values). Route or Run it; sockets reach it through a Server.
func NewHub(opts HubOptions) *Hub {
	if opts.Logger == nil {
		opts.Logger = slog.Default().With("component", "hub")
	}
	if opts.Confirm == nil {
		opts.Confirm = func(pglogrepl.LSN) {}
	}
	return &Hub{log: opts.Logger, confirm: opts.Confirm, relay: opts.Relay, authz: opts.Authorizer,
		maxRecordBytes:    orDefault(opts.MaxRecordBytes, DefaultMaxRecordBytes),
		maxBroadcastBytes: orDefault(opts.MaxBroadcastBytes, DefaultMaxBroadcastBytes),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "realtime_commit_to_send_seconds",
			Help:    "Time from a transaction's commit in PostgreSQL to its change being queued for the sockets.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		topics: filters.NewTopicIndex[*conn](), changes: filters.NewChangesIndex[*changesSub](), rooms: map[roomKey]*room{}, columns: map[uint32]cachedColumns{},
		topicChans: map[topicKey]*channel{}}
}

// Run routes batches until in is closed or ctx is done. It owns the
// authorizer's refresher too, when there is one.
func (h *Hub) Run(ctx context.Context, in <-chan replication.Batch) {
	h.out.Start(runtime.GOMAXPROCS(0))
	defer h.out.Stop()
	if h.authz != nil {
		var wg sync.WaitGroup
		defer wg.Wait()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Go(func() { h.authz.Run(ctx) })
	}
	authz.GatherRounds(ctx, in, h.authz != nil, func(round []replication.Batch) {
		// A round that began is finished even when routing is being
		// stopped: its checks are bounded by their own timeout, and a
		// check cut short would hide changes that are then confirmed.
		h.routeRound(context.WithoutCancel(ctx), round)
	})
}

// Route hands one batch to the subscribed sockets, then confirms its commit.
// It must only be called from one goroutine at a time.
func (h *Hub) Route(b replication.Batch) {
	h.routeRound(context.Background(), []replication.Batch{b})
}

// routeRound routes batches in order. Visibility checks for the whole
// round happen first, so every change is checked before it is delivered,
// and each commit is confirmed only after its changes were handed over.
func (h *Hub) routeRound(ctx context.Context, bs []replication.Batch) {
	for bi := range bs {
		for i := range bs[bi].Changes {
			if h.maxRecordBytes > 0 && bs[bi].Changes[i].RecordBytes() > h.maxRecordBytes {
				bs[bi].Changes[i].TooLarge = true
			}
		}
	}
	ra := h.authorize(ctx, bs)
	for _, b := range bs {
		h.routeBatch(b, &ra)
	}
}

func (h *Hub) routeBatch(b replication.Batch, ra *authz.Round) {
	switch {
	case b.Notice != nil:
		h.notifyStream(b.Notice)
	case b.Gap:
		h.notifyGap(gapMessage)
	}
	if len(b.Changes) > 0 {
		h.mu.RLock()
		for i := range b.Changes {
			if h.routeDBBroadcast(&b.Changes[i]) {
				continue
			}
			h.routeTopics(&b.Changes[i], ra)
			h.routeChanges(&b.Changes[i], ra)
		}
		h.mu.RUnlock()
		// Outside the lock, so joins and leaves go on meanwhile.
		h.out.Flush()
		delay := time.Since(b.Changes[len(b.Changes)-1].CommitTime)
		h.stats.lag.Store(int64(delay))
		h.latency.Observe(delay.Seconds())
		h.stats.changes.Add(int64(len(b.Changes)))
	}
	if b.Commit {
		h.stats.lastLSN.Store(uint64(b.CommitLSN))
		h.confirm(b.CommitLSN)
	}
}

// subscribe registers a joined channel of c: its topic subscription, or its
// postgres_changes bindings and its broadcast/presence room. then runs under
// the write lock, after the subscription exists and before any change can be
// routed to it: the join reply queued there reaches the client before the
// first change, and "subscribed" is true when the client hears it.
func (h *Hub) subscribe(c *conn, ch *channel, then func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch.topic != nil {
		h.topics.Add(*ch.topic, c)
		h.topicChans[topicKey{c, ch.topic.Name}] = ch
	}
	for _, s := range ch.subs {
		h.changes.Add(s.b, s)
	}
	if ch.room != nil {
		h.joinRoom(*ch.room, c, ch)
	}
	h.stats.channels.Add(1)
	then()
}

// setSubject replaces who a joined channel acts as, after a token refresh.
// role is the role the channel now holds in the authorizer ("" if none);
// the one it held before is released.
func (h *Hub) setSubject(ch *channel, subj *authz.Subject, role string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch.removed {
		// Left meanwhile: removeLocked released what it held.
		if role != "" && h.authz != nil {
			h.authz.Release(role)
		}
		return
	}
	if ch.role != "" && h.authz != nil {
		h.authz.Release(ch.role)
	}
	ch.subj, ch.role = subj, role
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
	if ch.topic != nil {
		h.topics.Remove(ch.topic.Name, c)
		delete(h.topicChans, topicKey{c, ch.topic.Name})
	}
	if ch.role != "" && h.authz != nil {
		h.authz.Release(ch.role)
	}
	for _, s := range ch.subs {
		h.changes.Remove(s.b)
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
	h.eachChangesChannel(false, func(c *conn, ch *channel) {
		c.send(systemMessage(ch, "postgres_changes", "error", why))
	})
}

// eachChangesChannel calls fn for every channel with postgres_changes
// bindings and, with topics, every 1.x topic channel. Called with the
// hub's lock held.
func (h *Hub) eachChangesChannel(topics bool, fn func(*conn, *channel)) {
	if topics {
		for k, ch := range h.topicChans {
			fn(k.c, ch)
		}
	}
	for _, r := range h.rooms {
		for c, ch := range r.members {
			if len(ch.subs) > 0 {
				fn(c, ch)
			}
		}
	}
}

// notifyStream tells every channel that receives changes, 1.x topics and
// postgres_changes alike, that the stream stopped or flows again. Logged
// by the stream already.
func (h *Hub) notifyStream(n *replication.Notice) {
	status := "ok"
	if n.Stalled || n.Skipped {
		status = "error"
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.eachChangesChannel(true, func(c *conn, ch *channel) {
		c.send(systemMessage(ch, "postgres_changes", status, n.Message))
	})
}

// queueChange hands a change frame to c and counts it.
func (h *Hub) queueChange(c *conn, frame []byte) { h.queueFrame(c, wsconn.Frame{Data: frame}) }

// queueFrame is queueChange for a frame of any shape.
func (h *Hub) queueFrame(c *conn, f wsconn.Frame) {
	if h.out.Deliver(&c.box, f) {
		h.stats.messages.Add(1)
		h.stats.bytes.Add(int64(f.Size()))
	}
}
