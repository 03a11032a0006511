package gateway

import (
	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// Topic subscriptions are the joins without config (realtime-js 1.x, and
// realtime-js 2.x on "realtime:schema:table" topics): the topic is the
// subscription, and the payload is the 1.x one (payload.AppendTopic).

// topicKey finds the channel of a topic subscriber: a socket joins a topic once.
type topicKey struct {
	c     *conn
	topic string
}

// routeTopics renders the change once, and each frame once per (topic,
// serializer); every socket on that topic gets the same bytes.
func (h *Hub) routeTopics(ch *replication.Change, ra *authz.Round) {
	if ra.On() {
		h.routeTopicsAuthorized(ch, ra)
		return
	}
	var data []byte
	h.topics.Match(ch.Rel.Schema, ch.Rel.Table, payload.TopicRow(ch), func(subs *filters.Subscribers[*conn]) {
		if data == nil {
			h.buf = payload.AppendTopic(h.buf[:0], ch, h.columnsOf(ch.Rel))
			// The payload is shared by frames that outlive this call.
			data = append([]byte(nil), h.buf...)
		}
		var frames [2][]byte
		m := phoenix.Message{Topic: subs.Topic.Name, Event: ch.Op.String(), Payload: data}
		subs.Each(func(c *conn) {
			i := c.codecIndex
			if frames[i] == nil {
				frames[i] = c.codec.Append(make([]byte, 0, len(data)+len(m.Topic)+48), m)
			}
			h.queueChange(c, frames[i])
		})
	})
}

// cachedColumns is the rendered "columns" of a relation, kept until the
// relation changes.
type cachedColumns struct {
	rel  *replication.Relation
	json []byte
}

func (h *Hub) columnsOf(rel *replication.Relation) []byte {
	if c, ok := h.columns[rel.ID]; ok && c.rel == rel {
		return c.json
	}
	c := cachedColumns{rel: rel, json: payload.TopicColumns(rel)}
	h.columns[rel.ID] = c
	return c.json
}

// routeTopicsAuthorized is routeTopics for secure channels: each
// subscriber gets the change as its role sees it, or not at all. Called
// with the read lock held.
func (h *Hub) routeTopicsAuthorized(ch *replication.Change, ra *authz.Round) {
	// The payload is rendered once per role view, shared by every socket
	// whose channel sees the change through that view.
	var renders map[*authz.View][]byte
	h.topics.Match(ch.Rel.Schema, ch.Rel.Table, payload.TopicRow(ch), func(subs *filters.Subscribers[*conn]) {
		m := phoenix.Message{Topic: subs.Topic.Name, Event: ch.Op.String()}
		// Frames carry the topic, so they are shared within a topic only.
		frames := map[*authz.View]*[2][]byte{}
		subs.Each(func(c *conn) {
			chn := h.topicChans[topicKey{c, subs.Topic.Name}]
			if chn == nil {
				return
			}
			v, ok, failed := ra.ViewFor(ch, chn.subj)
			if failed != "" {
				h.warnHidden(c, chn, ch.Rel.Schema+"."+ch.Rel.Table)
			}
			if !ok || subs.Topic.Column != "" && !v.Can(subs.Topic.Column) {
				return
			}
			data := renders[v]
			if data == nil {
				if renders == nil {
					renders = map[*authz.View][]byte{}
				}
				if payload.Refused(v, ch) {
					data = payload.AppendTopicRefused(nil, ch, v.Err)
				} else {
					data = payload.AppendTopicFor(nil, ch, payload.TopicColumnsFor(ch.Rel, v), v)
				}
				renders[v] = data
			}
			fr := frames[v]
			if fr == nil {
				fr = &[2][]byte{}
				frames[v] = fr
			}
			i := c.codecIndex
			if fr[i] == nil {
				m.Payload = data
				fr[i] = c.codec.Append(make([]byte, 0, len(data)+len(m.Topic)+48), m)
			}
			h.queueChange(c, fr[i])
		})
	})
}
