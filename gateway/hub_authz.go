package gateway

import (
	"context"
	"slices"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/replication"
)

// routeAuth is what one routing round knows about who may see its changes.
// The zero value (off) lets everything through: SECURE_CHANNELS=false.
type routeAuth struct {
	on bool
	// snap is nil when on and no fresh snapshot could be read: then secure
	// channels receive nothing (fail closed).
	snap *authz.Snapshot
	// visible holds the RLS answers of the round, per change and subject.
	visible map[visKey]bool
	// failed holds why a check could not be answered.
	failed map[visKey]string
	// views caches the snapshot's answer per relation and subject: routing
	// asks it for every (change, subscriber) pair.
	views map[viewKey]*authz.View
}

type viewKey struct {
	rel  *replication.Relation
	subj *authz.Subject
}

// view returns what subj may see of ch's table (nil: nothing).
func (ra *routeAuth) view(ch *replication.Change, subj *authz.Subject) *authz.View {
	k := viewKey{ch.Rel, subj}
	if v, ok := ra.views[k]; ok {
		return v
	}
	v := ra.snap.View(subj.Role, ch.Rel.Schema, ch.Rel.Table)
	if ra.views == nil {
		ra.views = map[viewKey]*authz.View{}
	}
	ra.views[k] = v
	return v
}

type visKey struct {
	ch   *replication.Change
	subj *authz.Subject
}

// viewFor returns what subj may see of ch and whether ch goes to subj at
// all; failed is set when it does not because a check failed.
func (ra *routeAuth) viewFor(ch *replication.Change, subj *authz.Subject) (v *authz.View, ok bool, failed string) {
	if !ra.on {
		return nil, true, ""
	}
	if subj == nil || ra.snap == nil {
		return nil, false, ""
	}
	v = ra.view(ch, subj)
	if v == nil {
		return nil, false, ""
	}
	if ch.Op != replication.Insert && ch.Op != replication.Update || v.Err != "" || !v.RLS {
		return v, true, ""
	}
	k := visKey{ch, subj}
	return v, ra.visible[k], ra.failed[k]
}

// readable reports whether the role may read every column a filter uses:
// a filter on a hidden column matches nothing, or it would leak the value.
func readable(v *authz.View, f filters.Filter) bool {
	if v == nil {
		return true
	}
	for i := range f {
		if !v.Can(f[i].Column) {
			return false
		}
	}
	return true
}

// authorize prepares a routing round of batches: a fresh privilege
// snapshot and, for inserts and updates on tables with RLS, one round of
// visibility checks for every (row, subject) that filters let through. It
// runs on the routing goroutine without the hub's lock, and does no I/O
// for rounds without RLS tables.
func (h *Hub) authorize(ctx context.Context, bs []replication.Batch) routeAuth {
	if h.authz == nil {
		return routeAuth{}
	}
	ra := routeAuth{on: true}
	if !h.authz.InUse() {
		// No channel receives database changes: nothing to read.
		return ra
	}
	snap, err := h.authz.Current(ctx)
	if err != nil {
		h.logAuthz("cannot read privileges; secure channels receive nothing until it works", err)
		return ra
	}
	ra.snap = snap
	// Groups are found by (relation, subject pointer), cheap to hash for
	// every (change, subscriber) pair; subjects with equal claims on other
	// channels join the same group through their key, once per round.
	type group struct {
		req   authz.Request
		chs   []*replication.Change
		subjs []*authz.Subject
	}
	type ptrKey struct {
		rel  *replication.Relation
		subj *authz.Subject
	}
	type claimsKey struct{ schema, table, key string }
	var byPtr map[ptrKey]*group
	var byClaims map[claimsKey]*group
	var gs []*group
	add := func(ch *replication.Change, subj *authz.Subject, v *authz.View) {
		pk := ptrKey{ch.Rel, subj}
		g := byPtr[pk]
		if g == nil {
			if byPtr == nil {
				byPtr, byClaims = map[ptrKey]*group{}, map[claimsKey]*group{}
			}
			ck := claimsKey{ch.Rel.Schema, ch.Rel.Table, subj.Key()}
			if g = byClaims[ck]; g == nil {
				g = &group{req: authz.Request{View: v, Subject: subj}}
				byClaims[ck] = g
				gs = append(gs, g)
			}
			g.subjs = append(g.subjs, subj)
			byPtr[pk] = g
		}
		// A change is visited for all its subscribers before the next one:
		// a repeat is always the last row added.
		if n := len(g.chs); n > 0 && g.chs[n-1] == ch {
			return
		}
		row, ok := primaryKey(ch, v)
		if !ok {
			return // a key that cannot be looked up: not visible
		}
		g.req.Rows = append(g.req.Rows, row)
		g.chs = append(g.chs, ch)
	}
	h.mu.RLock()
	for bi := range bs {
		for i := range bs[bi].Changes {
			ch := &bs[bi].Changes[i]
			if ch.Op != replication.Insert && ch.Op != replication.Update || payload.IsMessagesRelation(ch.Rel) ||
				!snap.HasRLS(ch.Rel.Schema, ch.Rel.Table) {
				continue // realtime.messages rows are broadcasts, authorized per channel
			}
			h.eachSubject(ch, func(subj *authz.Subject, f filters.Filter) {
				if subj == nil {
					return
				}
				if v := ra.view(ch, subj); v != nil && v.RLS && v.Err == "" && readable(v, f) {
					add(ch, subj, v)
				}
			})
		}
	}
	h.mu.RUnlock()
	gs = slices.DeleteFunc(gs, func(g *group) bool { return len(g.req.Rows) == 0 })
	if len(gs) == 0 {
		return ra
	}
	reqs := make([]authz.Request, len(gs))
	for i, g := range gs {
		reqs[i] = g.req
	}
	var xids []uint32
	seen := map[uint32]bool{}
	for _, g := range gs {
		for _, ch := range g.chs {
			if ch.Xid != 0 && !seen[ch.Xid] {
				seen[ch.Xid] = true
				xids = append(xids, ch.Xid)
			}
		}
	}
	var visible [][]bool
	var errs []error
	if err := h.authz.WaitVisible(ctx, xids); err != nil {
		h.authz.Failures.Add(int64(len(reqs)))
		errs = make([]error, len(reqs))
		for i := range errs {
			errs[i] = err
		}
	} else {
		visible, errs = h.authz.Check(ctx, reqs)
	}
	ra.visible = make(map[visKey]bool)
	for i, g := range gs {
		if errs[i] != nil {
			if ra.failed == nil {
				ra.failed = map[visKey]string{}
			}
			h.logAuthz("visibility check failed; rows hidden from those subscribers", errs[i])
			for _, ch := range g.chs {
				for _, subj := range g.subjs {
					ra.failed[visKey{ch, subj}] = errs[i].Error()
				}
			}
			continue
		}
		for j, ch := range g.chs {
			if visible[i][j] {
				for _, subj := range g.subjs {
					ra.visible[visKey{ch, subj}] = true
				}
			}
		}
	}
	return ra
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

// primaryKey returns the text of ch's primary key in key order.
func primaryKey(ch *replication.Change, v *authz.View) ([]string, bool) {
	pk := v.PrimaryKey()
	out := make([]string, len(pk))
	for i, name := range pk {
		idx := ch.Rel.ColumnIndex(name)
		if idx < 0 || idx >= len(ch.New) || ch.New[idx].State != replication.Text {
			return nil, false
		}
		out[i] = ch.New[idx].Text
	}
	return out, true
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

// logAuthz logs authorization failures at most every ten seconds: they
// repeat for every round while a policy or the database is broken.
func (h *Hub) logAuthz(msg string, err error) {
	now := time.Now()
	if now.Sub(h.lastAuthzLog) < 10*time.Second {
		return
	}
	h.lastAuthzLog = now
	h.log.Warn(msg, "err", err)
}

// refused reports whether ch goes to the role as the original's error
// payload without the row: inserts and updates of a table whose key the
// role may not read, or that has no primary key.
func refused(v *authz.View, ch *replication.Change) bool {
	return v.Err != "" && (ch.Op == replication.Insert || ch.Op == replication.Update)
}
