package gateway

import (
	"fmt"

	"github.com/pgrealtime/realtime/gateway/broadcast"
	"github.com/pgrealtime/realtime/gateway/presence"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/phoenix"
)

// textBroadcast forwards a JSON broadcast push to the room as it came, as
// the original does.
func (c *conn) textBroadcast(m phoenix.Message, ch *channel) {
	if !c.mayWrite(ch, private.Broadcast) {
		return // dropped without a word, as the original does
	}
	if err := broadcast.CheckText(m.Payload, c.srv.cfg.MaxBroadcastBytes); err != nil {
		c.send(phoenix.ErrorReply(m, err.Error()))
		return
	}
	c.srv.hub.sendRoom(RoomMessage{Room: ch.room.ref(), JSON: m.Payload}, c)
	if ch.ack {
		c.send(phoenix.Reply(m, phoenix.StatusOK, nil))
	}
}

// userBroadcast forwards a binary (kind 3) broadcast: as kind 4 to vsn 2.0.0
// sockets, as the JSON form to vsn 1.0.0 sockets (which cannot receive a
// binary payload, so those get nothing for one).
func (c *conn) userBroadcast(m phoenix.Message, ch *channel, bm phoenix.BinaryMessage) {
	if !c.mayWrite(ch, private.Broadcast) {
		return
	}
	if err := broadcast.CheckBinary(bm, c.srv.cfg.MaxBroadcastBytes); err != nil {
		c.send(phoenix.ErrorReply(m, err.Error()))
		return
	}
	rm := RoomMessage{Room: ch.room.ref(), Binary: &BinaryBroadcast{Event: bm.Event, Metadata: bm.Metadata, Encoding: bm.Encoding, Payload: bm.Payload}}
	if private.PersistRequested(bm.Metadata) && !c.persistBroadcast(m, ch, &rm) {
		return
	}
	c.srv.hub.sendRoom(rm, c)
	if ch.ack {
		c.send(phoenix.Reply(m, phoenix.StatusOK, nil))
	}
}

// presence handles track and untrack.
func (c *conn) presence(m phoenix.Message, ch *channel) {
	p, err := presence.ParsePush(m.Payload)
	if err != nil {
		c.send(phoenix.ErrorReply(m, err.Error()))
		return
	}
	if ch.presenceKey == "" {
		// Presence was not enabled at join; tracking enables it, keyed
		// by a fresh id, as realtime-js may track without the option.
		ch.presenceKey = presence.NewKey()
	}
	switch p.Event {
	case "track":
		if !c.mayWrite(ch, private.Presence) {
			c.send(phoenix.ErrorReply(m, "Unauthorized: You do not have permissions to track presence on this Channel topic: "+subtopic(ch)))
			return
		}
		if err := c.srv.hub.track(*ch.room, c, ch.presenceKey, p.Payload); err != nil {
			c.send(phoenix.ErrorReply(m, err.Error()))
			return
		}
	case "untrack":
		c.srv.hub.untrack(*ch.room, c)
	default:
		c.send(phoenix.ErrorReply(m, fmt.Sprintf("unknown presence event %q: use track or untrack", p.Event)))
		return
	}
	c.send(phoenix.Reply(m, phoenix.StatusOK, nil))
}
