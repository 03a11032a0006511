package payload

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

// Broadcast from the database: a row of realtime.messages read from the
// stream and rendered as the broadcast frames clients receive.

// IsMessagesRelation reports whether rel is realtime.messages or one of its
// daily partitions: a publication made without publish_via_partition_root
// (as Supabase's server makes it) announces the partition.
func IsMessagesRelation(rel *replication.Relation) bool {
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

// Broadcast is a row of realtime.messages to broadcast.
type Broadcast struct {
	Topic, Event, ID string
	Private          bool
	// JSON is the jsonb text, or nil when Binary carries the bytes.
	JSON   json.RawMessage
	Binary []byte
}

// ErrSkipBroadcast marks a row written only to be stored.
var ErrSkipBroadcast = errors.New("row has skip_broadcast set")

// ParseBroadcast reads an inserted row. Its error says which column is
// missing or malformed.
func ParseBroadcast(ch *replication.Change) (Broadcast, error) {
	col := func(name string) (string, bool) {
		i := ch.Rel.ColumnIndex(name)
		if i < 0 || i >= len(ch.New) || ch.New[i].State != replication.Text {
			return "", false
		}
		return ch.New[i].Text, true
	}
	var m Broadcast
	var ok bool
	if skip, _ := col("skip_broadcast"); skip == "t" {
		return m, ErrSkipBroadcast
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"topic", &m.Topic}, {"event", &m.Event}, {"id", &m.ID}} {
		if *f.dst, ok = col(f.name); !ok || *f.dst == "" {
			return m, fmt.Errorf("column %s is null or missing", f.name)
		}
	}
	priv, ok := col("private")
	if !ok {
		return m, errors.New("column private is null or missing")
	}
	m.Private = priv == "t"
	if p, ok := col("payload"); ok {
		if !json.Valid([]byte(p)) {
			return m, errors.New("column payload is not valid JSON")
		}
		m.JSON = json.RawMessage(p)
	} else if b, ok := col("binary_payload"); ok {
		raw, err := hex.DecodeString(strings.TrimPrefix(b, `\x`))
		if err != nil {
			return m, fmt.Errorf("column binary_payload: %w", err)
		}
		m.Binary = raw
	} else {
		return m, errors.New("columns payload and binary_payload are both null")
	}
	return m, nil
}

// BroadcastFrames renders one message once per kind of socket: a text frame per
// serializer and, for vsn 2.0.0, the binary user-broadcast frame that
// realtime-js 2.91+ reads, with meta.id (and meta.replayed for a replay)
// as its metadata.
type BroadcastFrames struct {
	Text   [2][]byte // vsn 1.0.0, then 2.0.0; nil when none may be sent
	Binary []byte
}

// For returns the frame a socket gets, v2 for vsn 2.0.0: binary when it
// could be framed (fields fit in one byte of length), else text; ok is
// false when the socket cannot receive the message at all (binary bytes
// for a vsn 1.0.0 socket).
func (f *BroadcastFrames) For(v2 bool) (frame []byte, binary, ok bool) {
	if v2 && f.Binary != nil {
		return f.Binary, true, true
	}
	i := 0
	if v2 {
		i = 1
	}
	if t := f.Text[i]; t != nil {
		return t, false, true
	}
	return nil, false, false
}

func RenderBroadcast(m Broadcast, replayed bool) BroadcastFrames {
	topic := filters.TopicPrefix + m.Topic
	meta := []byte(`{"id":`)
	meta = phoenix.AppendString(meta, m.ID)
	if replayed {
		meta = append(meta, `,"replayed":true`...)
	}
	meta = append(meta, '}')
	var f BroadcastFrames
	enc, body := phoenix.EncodingJSON, []byte(m.JSON)
	if m.JSON == nil {
		enc, body = phoenix.EncodingBinary, m.Binary
	}
	f.Binary, _ = phoenix.AppendUserBroadcast(nil, topic, m.Event, meta, enc, body)
	if m.JSON != nil {
		p := []byte(`{"type":"broadcast","event":`)
		p = phoenix.AppendString(p, m.Event)
		p = append(p, `,"payload":`...)
		p = append(p, m.JSON...)
		p = append(p, `,"meta":`...)
		p = append(p, meta...)
		p = append(p, '}')
		msg := phoenix.Message{Topic: topic, Event: phoenix.EventBroadcast, Payload: p}
		f.Text[0] = phoenix.V1.Append(nil, msg)
		f.Text[1] = phoenix.V2.Append(nil, msg)
	}
	return f
}
