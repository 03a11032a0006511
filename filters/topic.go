package filters

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// TopicPrefix starts every channel topic the gateway serves.
const TopicPrefix = "realtime:"

// Wildcard stands for any schema (in "realtime:*") or any table of a schema
// (in "realtime:schema:*").
const Wildcard = "*"

// Topic is a parsed topic subscription: the topic of a join without config.
type Topic struct {
	// Name is the whole topic as the client sent it; frames carry it back.
	Name string
	// Schema is the schema, or Wildcard for every change of every table.
	Schema string
	// Table is empty for a schema-wide topic, or Wildcard for every table of Schema.
	Table string
	// Column and Value are set for a column=eq.value filter.
	Column, Value string
}

// TopicError says why a topic cannot be subscribed to.
type TopicError struct {
	Topic  string
	Reason string
}

func (e *TopicError) Error() string { return fmt.Sprintf("invalid topic %q: %s", e.Topic, e.Reason) }

// ParseTopic parses a topic subscription. The value of a filter may contain ':' and
// '.', as the original allows: only the first two ':' separate parts.
func ParseTopic(name string) (Topic, error) {
	bad := func(reason string) (Topic, error) { return Topic{}, &TopicError{Topic: name, Reason: reason} }
	sub, ok := strings.CutPrefix(name, TopicPrefix)
	if !ok {
		return bad(`topics start with "realtime:"`)
	}
	if sub == "" {
		return bad("a topic name is required after realtime:")
	}
	t := Topic{Name: name}
	var rest string
	var hasTable, hasFilter bool
	t.Schema, rest, hasTable = strings.Cut(sub, ":")
	if hasTable {
		t.Table, rest, hasFilter = strings.Cut(rest, ":")
	}
	switch {
	case t.Schema == "":
		return bad("the schema is empty")
	case t.Schema == Wildcard && hasTable:
		return bad(`"realtime:*" takes no table: it already receives every table`)
	case hasTable && t.Table == "":
		return bad("the table is empty")
	}
	if !hasFilter {
		return t, nil
	}
	if t.Table == Wildcard {
		return bad("a filter needs a table, not *")
	}
	col, opValue, ok := strings.Cut(rest, "=")
	if !ok || col == "" {
		return bad(`a filter has the form column=eq.value`)
	}
	op, value, ok := strings.Cut(opValue, ".")
	if !ok {
		return bad(fmt.Sprintf("filter %q has no operator: write %s=eq.value", rest, col))
	}
	if op != "eq" {
		return bad(fmt.Sprintf("operator %q is not supported in a topic: v1 topics filter with eq only", op))
	}
	if n := utf8.RuneCountInString(value); n >= maxFilterValueLen {
		// The join would succeed and never deliver anything.
		return bad(fmt.Sprintf("filter value of %d characters can never match: like the original, topics match values of fewer than %d characters", n, maxFilterValueLen))
	}
	t.Column, t.Value = col, value
	return t, nil
}
