package filters

import "unicode/utf8"

// Row is the view of a changed row that topic matching needs: its columns
// in table order, each with its text as the topic payload renders it. ok is false
// for NULL and for unchanged TOAST values, which never match a filter.
type Row interface {
	Len() int
	Column(i int) (name, text string, ok bool)
}

// maxFilterValueLen mirrors the original, which publishes no column topic
// for values of 100 characters or more.
const maxFilterValueLen = 100

// TopicIndex holds topic subscriptions. It is not safe for concurrent use:
// the caller guards it (the gateway's hub holds a RWMutex).
type TopicIndex[S comparable] struct {
	topics map[string]*Subscribers[S]
	all    *Subscribers[S]
	schema map[string]*Subscribers[S]
	// schemaTables holds "realtime:schema:*".
	schemaTables map[string]*Subscribers[S]
	tables       map[tableKey]*tableTopics[S]
}

type tableKey struct{ schema, table string }

type tableTopics[S comparable] struct {
	whole *Subscribers[S]
	// columns maps column → value → topic.
	columns map[string]map[string]*Subscribers[S]
	n       int
}

// Subscribers is the set of subscribers of one topic.
type Subscribers[S comparable] struct {
	Topic Topic
	list  []S
	pos   map[S]int
}

// Len returns the number of subscribers.
func (s *Subscribers[S]) Len() int { return len(s.list) }

// Each calls fn for every subscriber.
func (s *Subscribers[S]) Each(fn func(S)) {
	for _, x := range s.list {
		fn(x)
	}
}

func (s *Subscribers[S]) add(x S) bool {
	if _, ok := s.pos[x]; ok {
		return false
	}
	s.pos[x] = len(s.list)
	s.list = append(s.list, x)
	return true
}

func (s *Subscribers[S]) remove(x S) bool {
	i, ok := s.pos[x]
	if !ok {
		return false
	}
	last := len(s.list) - 1
	s.list[i] = s.list[last]
	s.pos[s.list[i]] = i
	var zero S
	s.list[last] = zero
	s.list = s.list[:last]
	delete(s.pos, x)
	return true
}

// NewTopicIndex returns an empty index.
func NewTopicIndex[S comparable]() *TopicIndex[S] {
	return &TopicIndex[S]{
		topics:       map[string]*Subscribers[S]{},
		schema:       map[string]*Subscribers[S]{},
		schemaTables: map[string]*Subscribers[S]{},
		tables:       map[tableKey]*tableTopics[S]{},
	}
}

// Add subscribes s to topic t. Adding twice is a no-op.
func (ix *TopicIndex[S]) Add(t Topic, s S) {
	subs := ix.topics[t.Name]
	if subs == nil {
		subs = &Subscribers[S]{Topic: t, pos: map[S]int{}}
		ix.topics[t.Name] = subs
		ix.link(subs)
	}
	subs.add(s)
}

// Remove unsubscribes s from the topic named name.
func (ix *TopicIndex[S]) Remove(name string, s S) {
	subs := ix.topics[name]
	if subs == nil || !subs.remove(s) || subs.Len() > 0 {
		return
	}
	delete(ix.topics, name)
	ix.unlink(subs)
}

// Topics returns the number of topics with at least one subscriber.
func (ix *TopicIndex[S]) Topics() int { return len(ix.topics) }

func (ix *TopicIndex[S]) link(subs *Subscribers[S]) {
	t := subs.Topic
	switch {
	case t.Schema == Wildcard:
		ix.all = subs
	case t.Table == "":
		ix.schema[t.Schema] = subs
	case t.Table == Wildcard:
		ix.schemaTables[t.Schema] = subs
	default:
		k := tableKey{t.Schema, t.Table}
		tt := ix.tables[k]
		if tt == nil {
			tt = &tableTopics[S]{}
			ix.tables[k] = tt
		}
		tt.n++
		if t.Column == "" {
			tt.whole = subs
			return
		}
		if tt.columns == nil {
			tt.columns = map[string]map[string]*Subscribers[S]{}
		}
		values := tt.columns[t.Column]
		if values == nil {
			values = map[string]*Subscribers[S]{}
			tt.columns[t.Column] = values
		}
		values[t.Value] = subs
	}
}

func (ix *TopicIndex[S]) unlink(subs *Subscribers[S]) {
	t := subs.Topic
	switch {
	case t.Schema == Wildcard:
		ix.all = nil
	case t.Table == "":
		delete(ix.schema, t.Schema)
	case t.Table == Wildcard:
		delete(ix.schemaTables, t.Schema)
	default:
		k := tableKey{t.Schema, t.Table}
		tt := ix.tables[k]
		if t.Column == "" {
			tt.whole = nil
		} else {
			values := tt.columns[t.Column]
			delete(values, t.Value)
			if len(values) == 0 {
				delete(tt.columns, t.Column)
			}
		}
		if tt.n--; tt.n == 0 {
			delete(ix.tables, k)
		}
	}
}

// Match calls visit for every topic a change on schema.table matches, in the
// original's order: the schema topic, "realtime:*", the table topic, then one
// topic per matching column filter. row is the row filters are evaluated on
// (nil for TRUNCATE, which only reaches schema, "*" and table topics).
func (ix *TopicIndex[S]) Match(schema, table string, row Row, visit func(*Subscribers[S])) {
	if s := ix.schema[schema]; s != nil {
		visit(s)
	}
	if ix.all != nil {
		visit(ix.all)
	}
	if s := ix.schemaTables[schema]; s != nil {
		visit(s)
	}
	tt := ix.tables[tableKey{schema, table}]
	if tt == nil {
		return
	}
	if tt.whole != nil {
		visit(tt.whole)
	}
	if row == nil || len(tt.columns) == 0 {
		return
	}
	for i, n := 0, row.Len(); i < n; i++ {
		name, text, ok := row.Column(i)
		if !ok {
			continue
		}
		values := tt.columns[name]
		if values == nil {
			continue
		}
		if s := values[text]; s != nil && (len(text) < maxFilterValueLen || utf8.RuneCountInString(text) < maxFilterValueLen) {
			visit(s)
		}
	}
}
