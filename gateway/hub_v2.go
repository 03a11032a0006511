package gateway

import (
	"strconv"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// pgSub is one postgres_changes binding of one joined channel.
type pgSub struct {
	c     *conn
	ch    *channel
	topic string
	b     *binding
	// pre and post wrap a payload into this channel's push in its socket's
	// serializer (phoenix.Codec.Envelope).
	pre, post []byte
	// indexed is set when the index holds it by its equality filter.
	indexed bool
	// ops has bit 1<<op set for each operation the binding wants, and
	// filtered says whether it has a filter: the router tests them for
	// every subscriber of a table, here rather than behind b.
	ops      uint8
	filtered bool
}

func newPGSub(c *conn, ch *channel, topic string, b *binding) *pgSub {
	s := &pgSub{c: c, ch: ch, topic: topic, b: b, filtered: len(b.filter) > 0}
	s.pre, s.post = c.codec.Envelope(topic, phoenix.EventPostgresChanges)
	for _, op := range []replication.Op{replication.Insert, replication.Update, replication.Delete} {
		if b.wants(op.String()) {
			s.ops |= 1 << op
		}
	}
	return s
}

// pgIndex finds the postgres_changes bindings a change may match: by exact
// table, by schema (table "*" or omitted), and for schema "*".
type pgIndex struct {
	tables  map[[2]string]map[*pgSub]struct{}
	schemas map[string]map[*pgSub]struct{}
	all     map[*pgSub]struct{}
	// eq holds the bindings with one equality filter, by table, column and
	// canonical value: a change visits only those its value selects.
	eq map[[2]string]map[string]*eqColumn
}

type eqColumn struct {
	typ    string
	values map[string]map[*pgSub]struct{}
}

func newPGIndex() *pgIndex {
	return &pgIndex{tables: map[[2]string]map[*pgSub]struct{}{}, schemas: map[string]map[*pgSub]struct{}{}, all: map[*pgSub]struct{}{},
		eq: map[[2]string]map[string]*eqColumn{}}
}

// addEq indexes s by its equality filter when its column type allows it
// (one type per column: a binding made after an ALTER TYPE stays linear).
func (ix *pgIndex) addEq(s *pgSub) bool {
	e := s.b.eq
	if e == nil {
		return false
	}
	k := [2]string{s.b.schema, s.b.table}
	cols := ix.eq[k]
	if cols == nil {
		cols = map[string]*eqColumn{}
		ix.eq[k] = cols
	}
	col := cols[e.column]
	if col == nil {
		col = &eqColumn{typ: e.typ, values: map[string]map[*pgSub]struct{}{}}
		cols[e.column] = col
	}
	if col.typ != e.typ {
		return false
	}
	m := col.values[e.value]
	if m == nil {
		m = map[*pgSub]struct{}{}
		col.values[e.value] = m
	}
	m[s] = struct{}{}
	s.indexed = true
	return true
}

func (ix *pgIndex) removeEq(s *pgSub) {
	k, e := [2]string{s.b.schema, s.b.table}, s.b.eq
	col := ix.eq[k][e.column]
	m := col.values[e.value]
	delete(m, s)
	if len(m) == 0 {
		delete(col.values, e.value)
		if len(col.values) == 0 {
			delete(ix.eq[k], e.column)
			if len(ix.eq[k]) == 0 {
				delete(ix.eq, k)
			}
		}
	}
}

func (ix *pgIndex) bucket(s *pgSub, create bool) map[*pgSub]struct{} {
	switch {
	case s.b.schema == "*":
		return ix.all
	case s.b.table == "" || s.b.table == "*":
		m := ix.schemas[s.b.schema]
		if m == nil && create {
			m = map[*pgSub]struct{}{}
			ix.schemas[s.b.schema] = m
		}
		return m
	}
	k := [2]string{s.b.schema, s.b.table}
	m := ix.tables[k]
	if m == nil && create {
		m = map[*pgSub]struct{}{}
		ix.tables[k] = m
	}
	return m
}

func (ix *pgIndex) add(s *pgSub) {
	if ix.addEq(s) {
		return
	}
	ix.bucket(s, true)[s] = struct{}{}
}

func (ix *pgIndex) remove(s *pgSub) {
	if s.indexed {
		ix.removeEq(s)
		return
	}
	m := ix.bucket(s, false)
	delete(m, s)
	if len(m) == 0 && s.b.schema != "*" {
		if s.b.table == "" || s.b.table == "*" {
			delete(ix.schemas, s.b.schema)
		} else {
			delete(ix.tables, [2]string{s.b.schema, s.b.table})
		}
	}
}

// each visits the bindings that may match ch: every binding of its table
// without an indexed equality filter, and those whose value is ch's.
func (ix *pgIndex) each(ch *replication.Change, fn func(*pgSub)) {
	schema, table := ch.Rel.Schema, ch.Rel.Table
	for s := range ix.tables[[2]string{schema, table}] {
		fn(s)
	}
	if cols := ix.eq[[2]string{schema, table}]; cols != nil {
		row := ch.New
		if ch.Op == replication.Delete {
			row = ch.Old
		}
		for name, col := range cols {
			i := ch.Rel.ColumnIndex(name)
			if i < 0 || i >= len(row) || row[i].State != replication.Text {
				continue
			}
			if ch.Rel.Columns[i].Type != col.typ {
				// The column changed type since the bindings were made:
				// try them all, as matches does.
				for _, m := range col.values {
					for s := range m {
						fn(s)
					}
				}
				continue
			}
			if v, ok := canonicalEq(col.typ, row[i].Text); ok {
				for s := range col.values[v] {
					fn(s)
				}
			}
		}
	}
	for s := range ix.schemas[schema] {
		fn(s)
	}
	for s := range ix.all {
		fn(s)
	}
}

// matches evaluates the binding's filter on the row filters see: the new
// row for INSERT and UPDATE, the old row for DELETE.
func (s *pgSub) matches(ch *replication.Change) bool {
	if s.ops&(1<<ch.Op) == 0 {
		return false
	}
	if !s.filtered {
		return true
	}
	row := ch.New
	if ch.Op == replication.Delete {
		row = ch.Old
	}
	for i := range s.b.filter {
		cond := &s.b.filter[i]
		idx := ch.Rel.ColumnIndex(cond.Column)
		if idx < 0 || idx >= len(row) || row[idx].State == replication.Unchanged {
			return false
		}
		v := row[idx]
		if !cond.Match(ch.Rel.Columns[idx].Type, v.State == replication.Null, v.Text) {
			return false
		}
	}
	return true
}

// delivery is one postgres_changes frame for one socket and topic, with the
// ids of every binding of that channel the change matched.
type delivery struct {
	c         *conn
	pre, post []byte
	ids       []uint32
	// selected is the union of the matched bindings' select lists, or nil
	// when one of them wants every column.
	selected map[string]bool
	all      bool
	// view is what the channel's role may see (nil without authorization).
	view *authz.View
}

func (d *delivery) addSelect(b *binding) {
	if d.all {
		return
	}
	if b.selected == nil {
		d.all, d.selected = true, nil
		return
	}
	if d.selected == nil {
		d.selected = map[string]bool{}
	}
	for c := range b.selected {
		d.selected[c] = true
	}
}

// routeV2 delivers a change to postgres_changes bindings. Called with the
// read lock held.
func (h *Hub) routeV2(ch *replication.Change, ra *routeAuth) {
	if ch.Op == replication.Truncate || len(h.pg.all)+len(h.pg.tables)+len(h.pg.schemas)+len(h.pg.eq) == 0 {
		return
	}
	h.deliveries = h.deliveries[:0]
	h.changeSeq++ // from 1: a new channel's zero routed matches no change
	h.pg.each(ch, func(s *pgSub) {
		if !s.matches(ch) {
			return
		}
		var view *authz.View
		if ra.on {
			v, ok, failed := ra.viewFor(ch, s.ch.subj)
			if failed != "" {
				h.warnHidden(s.c, s.ch, ch.Rel.Schema+"."+ch.Rel.Table)
			}
			if !ok || !readable(v, s.b.filter) {
				return
			}
			view = v
		}
		// A channel's bindings share one delivery: found by the number of
		// the change it was last routed for, not by a scan of the others.
		if s.ch.routed == h.changeSeq {
			d := &h.deliveries[s.ch.delivery]
			d.ids = append(d.ids, s.b.id)
			d.addSelect(s.b)
			return
		}
		s.ch.routed, s.ch.delivery = h.changeSeq, len(h.deliveries)
		h.deliveries = append(h.deliveries, delivery{c: s.c, pre: s.pre, post: s.post, ids: append(h.idsBuf(), s.b.id), view: view})
		h.deliveries[len(h.deliveries)-1].addSelect(s.b)
	})
	if len(h.deliveries) == 0 {
		return
	}
	if h.payloads == nil {
		h.payloads = map[payloadKey][]byte{}
	}
	clear(h.payloads)
	var all []byte
	var allByView map[*authz.View][]byte
	for _, d := range h.deliveries {
		// Payloads with every column the role may see depend only on the
		// view and the binding ids: rendered once, shared by every socket
		// and channel name that has them.
		shared := d.all || (d.view != nil && refused(d.view, ch))
		var key payloadKey
		if shared {
			key.view = d.view
			if len(d.ids) == 1 {
				key.id = d.ids[0]
			} else {
				key.ids = string(appendIDs(nil, d.ids))
			}
			if p, ok := h.payloads[key]; ok {
				h.queueFrame(d.c, outFrame{pre: d.pre, data: p, post: d.post})
				continue
			}
		}
		var data []byte
		switch {
		case d.view != nil && refused(d.view, ch):
			data = payload.AppendChangesRefused(nil, ch, d.view.Err)
		case d.all && d.view == nil:
			if all == nil {
				all = payload.AppendChanges(nil, ch, nil)
			}
			data = all
		case d.all:
			if data = allByView[d.view]; data == nil {
				if allByView == nil {
					allByView = map[*authz.View][]byte{}
				}
				data = payload.AppendChangesFor(nil, ch, nil, d.view)
				allByView[d.view] = data
			}
		default:
			data = payload.AppendChangesFor(nil, ch, d.selected, d.view)
		}
		p := make([]byte, 0, len(data)+32)
		p = append(p, `{"data":`...)
		p = append(p, data...)
		p = append(p, `,"ids":[`...)
		p = appendIDs(p, d.ids)
		p = append(p, "]}"...)
		if shared {
			h.payloads[key] = p
		}
		h.queueFrame(d.c, outFrame{pre: d.pre, data: p, post: d.post})
	}
}

// payloadKey is what makes two postgres_changes payloads of one change
// differ when both carry every column the role may see: the role's view
// and the binding ids (one, or several joined).
type payloadKey struct {
	view *authz.View
	id   uint32
	ids  string
}

func appendIDs(p []byte, ids []uint32) []byte {
	for i, id := range ids {
		if i > 0 {
			p = append(p, ',')
		}
		p = strconv.AppendUint(p, uint64(id), 10)
	}
	return p
}

// idsBuf returns an empty ids slice, from the deliveries' old backing
// arrays when there are any, so routing a change allocates none per socket.
func (h *Hub) idsBuf() []uint32 {
	n := len(h.deliveries)
	if n < cap(h.deliveries) {
		if old := h.deliveries[:n+1][n].ids; cap(old) > 0 {
			return old[:0]
		}
	}
	return make([]uint32, 0, 2)
}

// queueChange hands a change frame to c and counts it.
func (h *Hub) queueChange(c *conn, frame []byte) { h.queueFrame(c, outFrame{data: frame}) }

// queueFrame is queueChange for a frame of any shape.
func (h *Hub) queueFrame(c *conn, f outFrame) {
	if h.stalled.deliverFrame(c, f) {
		h.stats.messages.Add(1)
		h.stats.bytes.Add(int64(f.size()))
	}
}
