package gateway

import (
	"context"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/replication"
)

// authorize prepares a routing round of batches: a fresh privilege
// snapshot and, for inserts and updates on tables with RLS, one round of
// visibility checks for every (row, subject) that filters let through. It
// runs on the routing goroutine without the hub's lock, and does no I/O
// for rounds without RLS tables.
func (h *Hub) authorize(ctx context.Context, bs []replication.Batch) authz.Round {
	if h.authz == nil {
		return authz.Round{}
	}
	r := h.authz.NewRound(ctx)
	h.mu.RLock()
	for bi := range bs {
		for i := range bs[bi].Changes {
			// realtime.messages rows are broadcasts, authorized per channel.
			if ch := &bs[bi].Changes[i]; r.NeedsCheck(ch) && !payload.IsMessagesRelation(ch.Rel) {
				h.eachSubject(ch, func(subj *authz.Subject, f filters.Filter) { r.Add(ch, subj, f) })
			}
		}
	}
	h.mu.RUnlock()
	r.Check(ctx)
	return r
}

// eachSubject calls fn with the subject and filter of every subscription
// whose filter matches ch (topic subscriptions and postgres_changes bindings).
// Called with the hub's read lock held.
func (h *Hub) eachSubject(ch *replication.Change, fn func(*authz.Subject, filters.Filter)) {
	h.topics.Match(ch.Rel.Schema, ch.Rel.Table, payload.TopicRow(ch), func(subs *filters.Subscribers[*conn]) {
		var f filters.Filter
		if subs.Topic.Column != "" {
			f = filters.Filter{{Column: subs.Topic.Column}}
		}
		subs.Each(func(c *conn) {
			if chn := h.topicChans[topicKey{c, subs.Topic.Name}]; chn != nil {
				fn(chn.subj, f)
			}
		})
	})
	h.changes.Match(ch, func(s *changesSub, b *filters.Binding) {
		fn(s.ch.subj, b.Filter)
	})
}

// warnHidden tells a channel, once, that rows were hidden from it because
// its visibility check failed. Called with the hub's read lock held.
// The database's error stays in the server's log: a policy's error text
// may say more about the data than the subscriber may know.
func (h *Hub) warnHidden(c *conn, chn *channel, table string) {
	if chn == nil || chn.room == nil || !chn.authzWarned.CompareAndSwap(false, true) {
		return
	}
	msg := "Some changes of " + table + " were not delivered: checking whether you may see them failed (row level security policy error or timeout; see the server log)"
	c.send(systemMessage(chn, "postgres_changes", "error", msg))
}

// roleWait bounds how long a join waits to learn what its role may read.
const roleWait = 5 * time.Second

// acquireRole makes the authorizer follow the role of a channel that
// receives database changes, and checks that the gateway may act as it.
// It returns why the join must be refused.
func (c *conn) acquireRole(ch *channel) *join.Refusal {
	a := c.srv.hub.authz
	if a == nil || ch.subj == nil || ch.topic == nil && len(ch.subs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), roleWait)
	defer cancel()
	if err := a.Acquire(ctx, ch.subj.Role); err != nil {
		return join.Role(err)
	}
	ch.role = ch.subj.Role
	return nil
}
