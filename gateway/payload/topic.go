package payload

import (
	"strconv"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// unchangedToast is what the 1.x server sends for an unchanged TOASTed value
// it could not fill in (the Elixir atom :unchanged_toast, JSON-encoded).
const unchangedToast = "unchanged_toast"

// TopicColumns renders the "columns" array of the topic payload. It depends
// only on the relation, so the hub caches it per relation.
func TopicColumns(rel *replication.Relation) []byte { return TopicColumnsFor(rel, nil) }

// TopicColumnsFor renders the columns role view v may SELECT (nil: all).
func TopicColumnsFor(rel *replication.Relation, v *authz.View) []byte {
	b := []byte{'['}
	first := true
	for _, c := range rel.Columns {
		if v != nil && !v.Can(c.Name) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		if c.Key {
			b = append(b, `{"flags":["key"],"name":`...)
		} else {
			b = append(b, `{"flags":[],"name":`...)
		}
		b = phoenix.AppendString(b, c.Name)
		b = append(b, `,"type":`...)
		b = phoenix.AppendString(b, c.Type)
		b = append(b, `,"type_modifier":`...)
		// The original reports atttypmod as an unsigned 32-bit number (-1 → 4294967295).
		b = strconv.AppendUint(b, uint64(uint32(c.TypeModifier)), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendTopic renders a change as the 1.x topic payload (the original's
// STREAM-mode record): values are PostgreSQL's text, timestamps rewritten
// to ISO 8601.
func AppendTopic(dst []byte, ch *replication.Change, columns []byte) []byte {
	return AppendTopicFor(dst, ch, columns, nil)
}

// AppendTopicRefused renders the topic payload of a change a role gets
// without its row (Error 401 or 400).
func AppendTopicRefused(dst []byte, ch *replication.Change, reason string) []byte {
	return appendRefused(dst, ch, reason, "2006-01-02T15:04:05.000000Z")
}

// appendRefused renders a payload without a row: the commit time in the
// protocol's layout, the reason, then schema, table and type.
func appendRefused(dst []byte, ch *replication.Change, reason, timeLayout string) []byte {
	dst = append(dst, `{"commit_timestamp":"`...)
	dst = ch.CommitTime.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","errors":[`...)
	dst = phoenix.AppendString(dst, reason)
	dst = append(dst, ']')
	return appendPayloadTail(dst, ch)
}

// appendPayloadTail ends a payload with its schema, table and type, in the
// keys' sorted order the original's JSON has.
func appendPayloadTail(dst []byte, ch *replication.Change) []byte {
	dst = append(dst, `,"schema":`...)
	dst = phoenix.AppendString(dst, ch.Rel.Schema)
	dst = append(dst, `,"table":`...)
	dst = phoenix.AppendString(dst, ch.Rel.Table)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, ch.Op.String()...)
	return append(dst, `"}`...)
}

// AppendTopicFor is AppendTopic as role view v sees the change
// (nil: everything); columns must be TopicColumnsFor the same view.
func AppendTopicFor(dst []byte, ch *replication.Change, columns []byte, v *authz.View) []byte {
	// nil keeps every column: the path without authorization pays nothing.
	var keep, oldKeep func(replication.Column) bool
	if v != nil {
		keep = func(c replication.Column) bool { return v.Can(c.Name) }
		oldKeep = keep
		if v.TableRLS && ch.Op == replication.Delete {
			oldKeep = func(c replication.Column) bool { return v.IsKey(c.Name) && v.Can(c.Name) }
		}
	}
	dst = append(dst, '{')
	if ch.Op != replication.Truncate {
		dst = append(dst, `"columns":`...)
		dst = append(dst, columns...)
		dst = append(dst, ',')
	}
	dst = append(dst, `"commit_timestamp":"`...)
	dst = ch.CommitTime.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
	dst = append(dst, '"')
	if ch.Op != replication.Truncate {
		dst = appendErrors(dst, ch)
	}
	switch ch.Op {
	case replication.Update:
		dst = append(dst, `,"old_record":`...)
		if ch.OldIsKey {
			// The original ignores the key-only old tuple of an UPDATE.
			dst = append(dst, "{}"...)
		} else {
			dst = appendTopicRecord(dst, ch, ch.Old, keep)
		}
		dst = append(dst, `,"record":`...)
		dst = appendTopicRecord(dst, ch, ch.New, keep)
	case replication.Insert:
		dst = append(dst, `,"record":`...)
		dst = appendTopicRecord(dst, ch, ch.New, keep)
	case replication.Delete:
		dst = append(dst, `,"old_record":`...)
		dst = appendTopicRecord(dst, ch, ch.Old, oldKeep)
	}
	return appendPayloadTail(dst, ch)
}

// appendErrors renders the payload's "errors": null, or the original's 413
// when the change passed the record size limit.
func appendErrors(dst []byte, ch *replication.Change) []byte {
	if ch.TooLarge {
		return append(dst, `,"errors":["Error 413: Payload Too Large"]`...)
	}
	return append(dst, `,"errors":null`...)
}

func appendTopicRecord(dst []byte, ch *replication.Change, vals []replication.Value, keep func(replication.Column) bool) []byte {
	rel := ch.Rel
	dst = append(dst, '{')
	first := true
	for i, v := range vals {
		if i >= len(rel.Columns) {
			break
		}
		if !ch.Kept(v) || keep != nil && !keep(rel.Columns[i]) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = phoenix.AppendString(dst, rel.Columns[i].Name)
		dst = append(dst, ':')
		switch v.State {
		case replication.Null:
			dst = append(dst, "null"...)
		case replication.Unchanged:
			dst = phoenix.AppendString(dst, unchangedToast)
		default:
			dst = phoenix.AppendString(dst, topicText(rel.Columns[i].Type, v.Text))
		}
	}
	return append(dst, '}')
}

// topicText is a value as the topic payload shows it: PostgreSQL's text, except
// timestamps, which the original rewrites to ISO 8601 with a zone.
func topicText(typ, text string) string {
	if typ == "timestamptz" || typ == "timestamp" {
		return isoTimestamp(text)
	}
	return text
}

// isoTimestamp turns "2021-02-16 23:47:47.51613+00" or "2021-02-16
// 23:47:47.51613" into "2021-02-16T23:47:47.51613Z" (a zone-less timestamp is
// labelled UTC, as the original does; other offsets become ±HH:MM). Values
// it does not recognise (infinity, BC dates) are returned unchanged.
func isoTimestamp(s string) string {
	if len(s) < 19 || s[10] != ' ' || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return s
	}
	end := 19
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
	}
	zone := s[end:]
	switch {
	case zone == "" || zone == "+00" || zone == "+00:00" || zone == "-00":
		zone = "Z"
	case (zone[0] == '+' || zone[0] == '-') && len(zone) == 3:
		zone += ":00"
	case (zone[0] == '+' || zone[0] == '-') && len(zone) == 6 && zone[3] == ':':
	default:
		return s
	}
	b := make([]byte, 0, end+len(zone))
	b = append(b, s[:10]...)
	b = append(b, 'T')
	b = append(b, s[11:end]...)
	b = append(b, zone...)
	return string(b)
}

// topicRow is the row topic filters are evaluated on: the new row for
// INSERT and UPDATE, the old row for DELETE.
type topicRow struct {
	rel  *replication.Relation
	vals []replication.Value
}

func (r topicRow) Len() int { return min(len(r.vals), len(r.rel.Columns)) }

func (r topicRow) Column(i int) (string, string, bool) {
	c := r.rel.Columns[i]
	v := r.vals[i]
	if v.State != replication.Text {
		return c.Name, "", false
	}
	return c.Name, topicText(c.Type, v.Text), true
}

// TopicRow is the row a topic's filter (realtime:schema:table:col=eq.v)
// is evaluated on, with values as the topic payload shows them, so a
// filter compares what the subscriber would receive. It is nil for
// TRUNCATE, which has no row.
func TopicRow(ch *replication.Change) filters.Row {
	switch ch.Op {
	case replication.Insert, replication.Update:
		return topicRow{ch.Rel, ch.New}
	case replication.Delete:
		return topicRow{ch.Rel, ch.Old}
	}
	return nil
}
