package filters

import "github.com/pgrealtime/realtime/replication"

// ChangesIndex holds postgres_changes bindings, each with its subscriber,
// and finds the ones a change matches: by exact table, by schema (table "*"
// or omitted), for schema "*", and by value for bindings with one
// equality filter. It is not safe for concurrent use: the caller guards it
// (the gateway's hub holds a RWMutex).
type ChangesIndex[S any] struct {
	tables  map[tableKey]map[*Binding]changesEntry[S]
	schemas map[string]map[*Binding]changesEntry[S]
	all     map[*Binding]changesEntry[S]
	// eq holds the bindings with one equality filter, by table, column and
	// canonical value: a change visits only those its value selects.
	eq map[tableKey]map[string]*eqColumn[S]
}

// changesEntry is what routing reads for every binding of a table, kept
// next to the binding's pointer so that rejecting one costs no pointer
// chase.
type changesEntry[S any] struct {
	sub S
	// ops has bit 1<<op set for each operation the binding wants, and
	// filtered says whether it has a filter.
	ops      uint8
	filtered bool
}

type eqColumn[S any] struct {
	typ    string
	values map[string]map[*Binding]changesEntry[S]
}

// NewChangesIndex returns an empty index.
func NewChangesIndex[S any]() *ChangesIndex[S] {
	return &ChangesIndex[S]{tables: map[tableKey]map[*Binding]changesEntry[S]{}, schemas: map[string]map[*Binding]changesEntry[S]{},
		all: map[*Binding]changesEntry[S]{}, eq: map[tableKey]map[string]*eqColumn[S]{}}
}

// Empty reports whether the index holds no binding.
func (ix *ChangesIndex[S]) Empty() bool {
	return len(ix.all)+len(ix.tables)+len(ix.schemas)+len(ix.eq) == 0
}

// Add subscribes s with b. A binding is added once: each join parses its
// own.
func (ix *ChangesIndex[S]) Add(b *Binding, s S) {
	e := changesEntry[S]{sub: s, filtered: len(b.Filter) > 0}
	for _, op := range []replication.Op{replication.Insert, replication.Update, replication.Delete} {
		if b.wants(op.String()) {
			e.ops |= 1 << op
		}
	}
	if ix.addEq(b, e) {
		return
	}
	ix.bucket(b, true)[b] = e
}

// Remove unsubscribes b.
func (ix *ChangesIndex[S]) Remove(b *Binding) {
	if ix.removeEq(b) {
		return
	}
	m := ix.bucket(b, false)
	delete(m, b)
	if len(m) == 0 && b.Schema != Wildcard {
		if b.Table == "" || b.Table == Wildcard {
			delete(ix.schemas, b.Schema)
		} else {
			delete(ix.tables, tableKey{b.Schema, b.Table})
		}
	}
}

// addEq indexes b by its equality filter when its column type allows it
// (one type per column: a binding made after an ALTER TYPE stays linear).
func (ix *ChangesIndex[S]) addEq(b *Binding, en changesEntry[S]) bool {
	e := b.eq
	if e == nil {
		return false
	}
	k := tableKey{b.Schema, b.Table}
	cols := ix.eq[k]
	if cols == nil {
		cols = map[string]*eqColumn[S]{}
		ix.eq[k] = cols
	}
	col := cols[e.column]
	if col == nil {
		col = &eqColumn[S]{typ: e.typ, values: map[string]map[*Binding]changesEntry[S]{}}
		cols[e.column] = col
	}
	if col.typ != e.typ {
		return false
	}
	m := col.values[e.value]
	if m == nil {
		m = map[*Binding]changesEntry[S]{}
		col.values[e.value] = m
	}
	m[b] = en
	return true
}

// removeEq removes b from the equality index, or returns false when addEq
// had left it in its table's bucket.
func (ix *ChangesIndex[S]) removeEq(b *Binding) bool {
	e := b.eq
	if e == nil {
		return false
	}
	k := tableKey{b.Schema, b.Table}
	col := ix.eq[k][e.column]
	if col == nil {
		return false
	}
	m := col.values[e.value]
	if _, ok := m[b]; !ok {
		return false
	}
	delete(m, b)
	if len(m) == 0 {
		delete(col.values, e.value)
		if len(col.values) == 0 {
			delete(ix.eq[k], e.column)
			if len(ix.eq[k]) == 0 {
				delete(ix.eq, k)
			}
		}
	}
	return true
}

func (ix *ChangesIndex[S]) bucket(b *Binding, create bool) map[*Binding]changesEntry[S] {
	switch {
	case b.Schema == Wildcard:
		return ix.all
	case b.Table == "" || b.Table == Wildcard:
		m := ix.schemas[b.Schema]
		if m == nil && create {
			m = map[*Binding]changesEntry[S]{}
			ix.schemas[b.Schema] = m
		}
		return m
	}
	k := tableKey{b.Schema, b.Table}
	m := ix.tables[k]
	if m == nil && create {
		m = map[*Binding]changesEntry[S]{}
		ix.tables[k] = m
	}
	return m
}

// Match calls visit for every binding ch matches, with its subscriber:
// bindings of its table without an indexed equality filter and those whose
// value is ch's are tried, the others never looked at. The order is
// unspecified. TRUNCATE matches no binding.
func (ix *ChangesIndex[S]) Match(ch *replication.Change, visit func(S, *Binding)) {
	schema, table := ch.Rel.Schema, ch.Rel.Table
	for b, e := range ix.tables[tableKey{schema, table}] {
		if e.matches(b, ch) {
			visit(e.sub, b)
		}
	}
	if cols := ix.eq[tableKey{schema, table}]; cols != nil {
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
					for b, e := range m {
						if e.matches(b, ch) {
							visit(e.sub, b)
						}
					}
				}
				continue
			}
			if v, ok := canonicalEq(col.typ, row[i].Text); ok {
				for b, e := range col.values[v] {
					if e.matches(b, ch) {
						visit(e.sub, b)
					}
				}
			}
		}
	}
	for b, e := range ix.schemas[schema] {
		if e.matches(b, ch) {
			visit(e.sub, b)
		}
	}
	for b, e := range ix.all {
		if e.matches(b, ch) {
			visit(e.sub, b)
		}
	}
}

// matches evaluates the binding's filter on the row filters see: the new
// row for INSERT and UPDATE, the old row for DELETE.
func (e *changesEntry[S]) matches(b *Binding, ch *replication.Change) bool {
	if e.ops&(1<<ch.Op) == 0 {
		return false
	}
	if !e.filtered {
		return true
	}
	row := ch.New
	if ch.Op == replication.Delete {
		row = ch.Old
	}
	for i := range b.Filter {
		cond := &b.Filter[i]
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
