package authz

import (
	"context"
	"slices"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/replication"
)

// Round is what one routing round knows about who may see its changes.
// It is built in three steps on the routing goroutine: NewRound reads the
// snapshot, Add is called (under the hub's read lock) for every subscriber
// a change's filters let through, and Check asks PostgreSQL, without the
// lock; routing then reads it through ViewFor. The zero Round is off and
// lets everything through: SECURE_CHANNELS=false.
type Round struct {
	on bool
	// a runs the checks; nil when no channel receives database changes.
	a *Authorizer
	// snap is nil when on and no fresh snapshot could be read: then secure
	// channels receive nothing (fail closed).
	snap *Snapshot
	// visible holds the RLS answers of the round, per change and subject.
	visible map[visKey]bool
	// failed holds why a check could not be answered.
	failed map[visKey]string
	// views caches the snapshot's answer per relation and subject: routing
	// asks it for every (change, subscriber) pair.
	views map[viewKey]*View

	// The requests Add gathers for Check. Groups are found by (relation,
	// subject pointer), cheap to hash for every (change, subscriber) pair;
	// subjects with equal claims on other channels join the same group
	// through their key, once per round.
	byPtr    map[viewKey]*group
	byClaims map[claimsKey]*group
	groups   []*group
}

type viewKey struct {
	rel  *replication.Relation
	subj *Subject
}

type visKey struct {
	ch   *replication.Change
	subj *Subject
}

type claimsKey struct{ schema, table, key string }

// group is one Request of a round: the rows of one table to check for
// every subject with the same claims.
type group struct {
	req   Request
	chs   []*replication.Change
	subjs []*Subject
}

// NewRound starts a round of routing. When no channel receives database
// changes it reads nothing. When the snapshot cannot be read, the round
// fails closed: secure channels receive nothing until it works.
func (a *Authorizer) NewRound(ctx context.Context) Round {
	if !a.InUse() {
		return Round{on: true}
	}
	snap, err := a.Current(ctx)
	if err != nil {
		a.warn("cannot read privileges; secure channels receive nothing until it works", err)
		return Round{on: true}
	}
	return Round{on: true, a: a, snap: snap}
}

// warnEvery bounds the log lines of routing's failures: they repeat for
// every round while a policy or the database is broken.
const warnEvery = 10 * time.Second

func (a *Authorizer) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := a.lastWarn.Load()
	if now-last < int64(warnEvery) || !a.lastWarn.CompareAndSwap(last, now) {
		return
	}
	a.log.Warn(msg, "err", err)
}

// On reports whether the round authorizes at all.
func (r *Round) On() bool { return r.on }

// view returns what subj may see of ch's table (nil: nothing).
func (r *Round) view(ch *replication.Change, subj *Subject) *View {
	k := viewKey{ch.Rel, subj}
	if v, ok := r.views[k]; ok {
		return v
	}
	v := r.snap.View(subj.Role, ch.Rel.Schema, ch.Rel.Table)
	if r.views == nil {
		r.views = map[viewKey]*View{}
	}
	r.views[k] = v
	return v
}

// ViewFor returns what subj may see of ch and whether ch goes to subj at
// all; failed is set when it does not because a check failed.
func (r *Round) ViewFor(ch *replication.Change, subj *Subject) (v *View, ok bool, failed string) {
	if !r.on {
		return nil, true, ""
	}
	if subj == nil || r.snap == nil {
		return nil, false, ""
	}
	v = r.view(ch, subj)
	if v == nil {
		return nil, false, ""
	}
	if ch.Op != replication.Insert && ch.Op != replication.Update || v.Err != "" || !v.RLS {
		return v, true, ""
	}
	k := visKey{ch, subj}
	return v, r.visible[k], r.failed[k]
}

// NeedsCheck reports whether ch must be checked row by row: an insert or
// update of a table with RLS. The caller then calls Add for each of its
// subscribers.
func (r *Round) NeedsCheck(ch *replication.Change) bool {
	return r.snap != nil && (ch.Op == replication.Insert || ch.Op == replication.Update) &&
		r.snap.HasRLS(ch.Rel.Schema, ch.Rel.Table)
}

// Add asks for ch to be checked for subj, whose subscription filters with
// f, when the check is needed: the role does not bypass RLS and may read
// the key and every filtered column. A change must be added for all its
// subscribers before the next change is added.
func (r *Round) Add(ch *replication.Change, subj *Subject, f filters.Filter) {
	if subj == nil {
		return
	}
	v := r.view(ch, subj)
	if v == nil || !v.RLS || v.Err != "" || !Readable(v, f) {
		return
	}
	pk := viewKey{ch.Rel, subj}
	g := r.byPtr[pk]
	if g == nil {
		if r.byPtr == nil {
			r.byPtr, r.byClaims = map[viewKey]*group{}, map[claimsKey]*group{}
		}
		ck := claimsKey{ch.Rel.Schema, ch.Rel.Table, subj.Key()}
		if g = r.byClaims[ck]; g == nil {
			g = &group{req: Request{View: v, Subject: subj}}
			r.byClaims[ck] = g
			r.groups = append(r.groups, g)
		}
		g.subjs = append(g.subjs, subj)
		r.byPtr[pk] = g
	}
	// A change is visited for all its subscribers before the next one: a
	// repeat is always the last row added.
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

// Check runs the round's visibility checks: one wait for its transactions
// to be visible, then one Request per table and distinct claims. It does
// no I/O when nothing was added. The rows of a failed check stay hidden
// from its subjects, and the failure is logged.
func (r *Round) Check(ctx context.Context) {
	gs := slices.DeleteFunc(r.groups, func(g *group) bool { return len(g.req.Rows) == 0 })
	r.byPtr, r.byClaims, r.groups = nil, nil, nil
	if len(gs) == 0 {
		return
	}
	reqs := make([]Request, len(gs))
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
	if werr := r.a.WaitVisible(ctx, xids); werr != nil {
		r.a.Failures.Add(int64(len(reqs)))
		errs = make([]error, len(reqs))
		for i := range errs {
			errs[i] = werr
		}
	} else {
		visible, errs = r.a.Check(ctx, reqs)
	}
	r.visible = make(map[visKey]bool)
	for i, g := range gs {
		if errs[i] != nil {
			if r.failed == nil {
				r.failed = map[visKey]string{}
			}
			r.a.warn("visibility check failed; rows hidden from those subscribers", errs[i])
			for _, ch := range g.chs {
				for _, subj := range g.subjs {
					r.failed[visKey{ch, subj}] = errs[i].Error()
				}
			}
			continue
		}
		for j, ch := range g.chs {
			if visible[i][j] {
				for _, subj := range g.subjs {
					r.visible[visKey{ch, subj}] = true
				}
			}
		}
	}
}

// Readable reports whether the role may read every column a filter uses:
// a filter on a hidden column matches nothing, or it would leak the value.
func Readable(v *View, f filters.Filter) bool {
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

// primaryKey returns the text of ch's primary key in key order.
func primaryKey(ch *replication.Change, v *View) ([]string, bool) {
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
