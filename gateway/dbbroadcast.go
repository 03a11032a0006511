package gateway

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// Broadcast from the database: every INSERT into realtime.messages that
// the stream brings (publication supabase_realtime_messages_publication)
// is a broadcast to the room of its topic, public or private as the row
// says. It goes out in commit order with the rest of the transaction, and
// the hub confirms the transaction only after queueing it, so a permanent
// slot redelivers what a restart interrupted. Rows of realtime.messages are
// never postgres_changes.

// isMessagesRelation reports whether rel is realtime.messages or one of its
// daily partitions: a publication made without publish_via_partition_root
// (as Supabase's server makes it) announces the partition.
func isMessagesRelation(rel *replication.Relation) bool {
	if rel == nil || rel.Schema != "realtime" {
		return false
	}
	if rel.Table == "messages" {
		return true
	}
	day, ok := strings.CutPrefix(rel.Table, "messages_")
	if !ok || len(day) != len("2006_01_02") {
		return false
	}
	for i, r := range day {
		if i == 4 || i == 7 {
			if r != '_' {
				return false
			}
		} else if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// dbMessage is a row of realtime.messages to broadcast.
type dbMessage struct {
	topic, event, id string
	private          bool
	// payload is the jsonb text, or nil when binary carries the bytes.
	payload json.RawMessage
	binary  []byte
}

// errSkipBroadcast marks a row written only to be stored.
var errSkipBroadcast = errors.New("row has skip_broadcast set")

// parseDBMessage reads an inserted row. Its error says which column is
// missing or malformed.
func parseDBMessage(ch *replication.Change) (dbMessage, error) {
	col := func(name string) (string, bool) {
		i := ch.Rel.ColumnIndex(name)
		if i < 0 || i >= len(ch.New) || ch.New[i].State != replication.Text {
			return "", false
		}
		return ch.New[i].Text, true
	}
	var m dbMessage
	var ok bool
	if skip, _ := col("skip_broadcast"); skip == "t" {
		return m, errSkipBroadcast
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"topic", &m.topic}, {"event", &m.event}, {"id", &m.id}} {
		if *f.dst, ok = col(f.name); !ok || *f.dst == "" {
			return m, fmt.Errorf("column %s is null or missing", f.name)
		}
	}
	priv, ok := col("private")
	if !ok {
		return m, errors.New("column private is null or missing")
	}
	m.private = priv == "t"
	if p, ok := col("payload"); ok {
		if !json.Valid([]byte(p)) {
			return m, errors.New("column payload is not valid JSON")
		}
		m.payload = json.RawMessage(p)
	} else if b, ok := col("binary_payload"); ok {
		raw, err := hex.DecodeString(strings.TrimPrefix(b, `\x`))
		if err != nil {
			return m, fmt.Errorf("column binary_payload: %w", err)
		}
		m.binary = raw
	} else {
		return m, errors.New("columns payload and binary_payload are both null")
	}
	return m, nil
}

// dbFrames renders one message once per kind of socket: a text frame per
// serializer and, for vsn 2.0.0, the binary user-broadcast frame that
// realtime-js 2.91+ reads, with meta.id (and meta.replayed for a replay)
// as its metadata.
type dbFrames struct {
	text   [2][]byte // by conn.codecIndex; nil when none may be sent
	binary []byte
}

func renderDBMessage(m dbMessage, replayed bool) dbFrames {
	topic := filters.TopicPrefix + m.topic
	meta := []byte(`{"id":`)
	meta = phoenix.AppendString(meta, m.id)
	if replayed {
		meta = append(meta, `,"replayed":true`...)
	}
	meta = append(meta, '}')
	var f dbFrames
	enc, body := phoenix.EncodingJSON, []byte(m.payload)
	if m.payload == nil {
		enc, body = phoenix.EncodingBinary, m.binary
	}
	f.binary, _ = phoenix.AppendUserBroadcast(nil, topic, m.event, meta, enc, body)
	if m.payload != nil {
		p := []byte(`{"type":"broadcast","event":`)
		p = phoenix.AppendString(p, m.event)
		p = append(p, `,"payload":`...)
		p = append(p, m.payload...)
		p = append(p, `,"meta":`...)
		p = append(p, meta...)
		p = append(p, '}')
		msg := phoenix.Message{Topic: topic, Event: phoenix.EventBroadcast, Payload: p}
		f.text[0] = phoenix.V1.Append(nil, msg)
		f.text[1] = phoenix.V2.Append(nil, msg)
	}
	return f
}

// frameFor picks c's frame: binary for vsn 2.0.0 when it could be framed
// (fields fit in one byte of length), else text; ok is false when c cannot
// receive the message at all (binary bytes for a vsn 1.0.0 socket).
func (f *dbFrames) frameFor(c *conn) (outFrame, bool) {
	if c.codec == phoenix.V2 && f.binary != nil {
		return outFrame{data: f.binary, binary: true}, true
	}
	if t := f.text[c.codecIndex]; t != nil {
		return outFrame{data: t}, true
	}
	return outFrame{}, false
}

// routeDBBroadcast handles a change of realtime.messages and reports true,
// or reports false for any other table. Called by Route under the read lock.
func (h *Hub) routeDBBroadcast(ch *replication.Change) bool {
	if !isMessagesRelation(ch.Rel) {
		return false
	}
	if ch.Op != replication.Insert {
		return true
	}
	m, err := parseDBMessage(ch)
	if err != nil {
		if !errors.Is(err, errSkipBroadcast) {
			h.db.drop(h.log, dropMalformed, "reason", err, "lsn", ch.LSN.String())
		}
		return true
	}
	if size := len(m.payload) + len(m.binary); h.maxBroadcastBytes > 0 && size > h.maxBroadcastBytes {
		h.db.drop(h.log, dropTooLarge, "reason", fmt.Sprintf("payload of %d bytes is over MAX_BROADCAST_BYTES (%d)", size, h.maxBroadcastBytes), "topic", m.topic, "id", m.id)
		return true
	}
	h.db.routed.Add(1)
	r := h.rooms[roomKey{private: m.private, topic: filters.TopicPrefix + m.topic}]
	if r == nil {
		return true
	}
	frames := renderDBMessage(m, false)
	for c, member := range r.members {
		if !member.mayRead(extBroadcast) || member.extras.replayed[m.id] {
			continue
		}
		if f, ok := frames.frameFor(c); ok {
			h.queueFrame(c, f)
		}
	}
	return true
}
