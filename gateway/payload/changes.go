package payload

import (
	"strconv"
	"strings"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// AppendChanges renders a change as the "data" object of a
// postgres_changes message: typed JSON values, {name, type} columns and a
// millisecond commit timestamp, as the current original sends them. With
// selected, columns and rows keep only those columns and the key.
func AppendChanges(dst []byte, ch *replication.Change, selected map[string]bool) []byte {
	return AppendChangesFor(dst, ch, selected, nil)
}

// AppendChangesFor is AppendChanges as role view v sees the change (nil:
// everything): columns it may not SELECT are left out everywhere, and a
// DELETE on a table with RLS keeps only the primary key of the old row.
// The caller sends the error payload instead when v.Err applies.
func AppendChangesFor(dst []byte, ch *replication.Change, selected map[string]bool, v *authz.View) []byte {
	rel := ch.Rel
	// nil keeps every column: the common path pays nothing per column.
	var keep func(replication.Column) bool
	if selected != nil || v != nil {
		keep = func(c replication.Column) bool {
			return (selected == nil || selected[c.Name] || c.Key) && (v == nil || v.Can(c.Name))
		}
	}
	keyOnly := func(c replication.Column) bool { return c.Key && (v == nil || v.Can(c.Name)) }
	oldKeep := keep
	if v != nil && v.TableRLS && ch.Op == replication.Delete {
		// RLS cannot be asked about a row that is gone: the original sends
		// its key only.
		oldKeep = func(c replication.Column) bool { return v.IsKey(c.Name) && v.Can(c.Name) }
		keyOnly = oldKeep
	}
	dst = append(dst, `{"columns":[`...)
	first := true
	for _, c := range rel.Columns {
		if keep != nil && !keep(c) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `{"name":`...)
		dst = phoenix.AppendString(dst, c.Name)
		dst = append(dst, `,"type":`...)
		dst = phoenix.AppendString(dst, c.Type)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"commit_timestamp":"`...)
	dst = ch.CommitTime.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, '"')
	dst = appendErrors(dst, ch)
	switch ch.Op {
	case replication.Insert:
		dst = append(dst, `,"record":`...)
		dst = appendChangesRecord(dst, ch, ch.New, keep)
	case replication.Update:
		dst = append(dst, `,"old_record":`...)
		dst = appendChangesOldRecord(dst, ch, oldKeep, keyOnly)
		dst = append(dst, `,"record":`...)
		dst = appendChangesRecord(dst, ch, ch.New, keep)
	case replication.Delete:
		dst = append(dst, `,"old_record":`...)
		dst = appendChangesOldRecord(dst, ch, oldKeep, keyOnly)
	}
	dst = append(dst, `,"schema":`...)
	dst = phoenix.AppendString(dst, rel.Schema)
	dst = append(dst, `,"table":`...)
	dst = phoenix.AppendString(dst, rel.Table)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, ch.Op.String()...)
	return append(dst, `"}`...)
}

// AppendChangesRefused renders the original's payload for a change a role gets
// without its row (Error 401 or 400): no columns, no record.
func AppendChangesRefused(dst []byte, ch *replication.Change, reason string) []byte {
	return appendRefused(dst, ch, reason, "2006-01-02T15:04:05.000Z")
}

// appendChangesOldRecord renders the replica identity of the old row: the whole
// row under FULL, the key columns otherwise. An UPDATE that kept its key has
// no old tuple in pgoutput; its key is then the key of the new row.
func appendChangesOldRecord(dst []byte, ch *replication.Change, keep, keyOnly func(replication.Column) bool) []byte {
	switch {
	case ch.Old != nil && !ch.OldIsKey:
		return appendChangesRecord(dst, ch, ch.Old, keep)
	case ch.Old != nil:
		return appendChangesRecord(dst, ch, ch.Old, keyOnly)
	case ch.Op == replication.Update:
		return appendChangesRecord(dst, ch, ch.New, keyOnly)
	}
	return append(dst, "{}"...)
}

func appendChangesRecord(dst []byte, ch *replication.Change, vals []replication.Value, keep func(replication.Column) bool) []byte {
	rel := ch.Rel
	dst = append(dst, '{')
	first := true
	for i, v := range vals {
		if i >= len(rel.Columns) {
			break
		}
		c := rel.Columns[i]
		// An unchanged TOAST value that could not be filled is left out, as
		// the original leaves it out.
		if (keep != nil && !keep(c)) || v.State == replication.Unchanged || !ch.Kept(v) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = phoenix.AppendString(dst, c.Name)
		dst = append(dst, ':')
		if v.State == replication.Null {
			dst = append(dst, "null"...)
			continue
		}
		dst = appendTyped(dst, c.Type, v.Text)
	}
	return append(dst, '}')
}

// appendTyped renders PostgreSQL text as the JSON that to_jsonb gives for
// the type: numbers, booleans, nested JSON, arrays, ISO timestamps.
func appendTyped(dst []byte, typ, text string) []byte {
	if strings.HasPrefix(typ, "_") {
		if out, ok := appendArray(dst, typ[1:], text); ok {
			return out
		}
		return phoenix.AppendString(dst, text)
	}
	switch typ {
	case "int2", "int4", "int8", "oid":
		if _, err := strconv.ParseInt(text, 10, 64); err == nil {
			return append(dst, text...)
		}
	case "float4", "float8", "numeric":
		// NaN and Infinity have no JSON number; to_jsonb gives them as strings.
		if isJSONNumber(text) {
			return append(dst, text...)
		}
	case "bool":
		switch text {
		case "t":
			return append(dst, "true"...)
		case "f":
			return append(dst, "false"...)
		}
	case "json", "jsonb":
		return append(dst, text...)
	case "timestamptz":
		return phoenix.AppendString(dst, isoOffset(text))
	case "timestamp":
		if len(text) >= 19 && text[10] == ' ' {
			return phoenix.AppendString(dst, text[:10]+"T"+text[11:])
		}
	}
	return phoenix.AppendString(dst, text)
}

// isoOffset renders timestamptz text as to_jsonb does: a T between date
// and time and a ±HH:MM offset.
func isoOffset(s string) string {
	iso := isoTimestamp(s)
	if strings.HasSuffix(iso, "Z") && iso != s {
		return iso[:len(iso)-1] + "+00:00"
	}
	return iso
}

func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	digits, dot, exp := 0, false, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && !exp && digits > 0:
			dot = true
		case (c == 'e' || c == 'E') && !exp && digits > 0:
			exp = true
			if i+1 < len(s) && (s[i+1] == '+' || s[i+1] == '-') {
				i++
			}
		default:
			return false
		}
	}
	// JSON forbids leading zeros such as 012; PostgreSQL never prints them.
	return digits > 0 && s[len(s)-1] >= '0' && s[len(s)-1] <= '9'
}
