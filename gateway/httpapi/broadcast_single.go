package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/broadcast"
	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/gateway/policy"
	"github.com/pgrealtime/realtime/phoenix"
)

// serveBroadcastSingle is POST /api/broadcast/{topic}/events/{event}, where
// realtime-js 2.1xx httpSend() posts one message: the topic (without
// "realtime:") and event in the path, the payload as the body, JSON or
// (Content-Type application/octet-stream) binary, ?private=true for a
// private channel. Answers as the 2.x server does: 202 with no body, 415
// for another media type, 422 for a missing payload.
func (a *API) serveBroadcastSingle(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	binary := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == "application/json":
		case err == nil && mt == "application/octet-stream":
			binary = true
		default:
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Unsupported Media Type. Use application/json or application/octet-stream"})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(a.cfg.MaxBroadcastBytes)))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "payload is larger than MAX_BROADCAST_BYTES"})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "read body: " + err.Error()})
		return
	}
	topic, event := r.PathValue("topic"), r.PathValue("event")
	room := cluster.RoomRef{Private: r.URL.Query().Get("private") == "true", Topic: filters.TopicPrefix + topic}
	if room.Private && !a.mayWrite(r, topic, policy.Broadcast) {
		w.WriteHeader(http.StatusAccepted) // as the batch endpoint: accepted, not delivered
		return
	}
	if binary {
		// Checked here so that a topic or event too long for a binary
		// frame (255 bytes) is the caller's error, not a silent drop.
		if _, err := phoenix.AppendUserBroadcast(nil, room.Topic, event, nil, phoenix.EncodingBinary, body); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]string{"topic": err.Error()}})
			return
		}
		rm := cluster.RoomMessage{Room: room, Binary: &cluster.BinaryBroadcast{Event: event, Encoding: phoenix.EncodingBinary, Payload: body}}
		if a.persist(w, r, &rm, nil, body) {
			a.core.Send(rm)
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	if len(body) == 0 || !json.Valid(body) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]string{"payload": "want a JSON value as the body (or Content-Type: application/octet-stream)"}})
		return
	}
	rm := cluster.RoomMessage{Room: room}
	if !a.persist(w, r, &rm, body, nil) {
		return
	}
	p := []byte(`{"event":`)
	p = phoenix.AppendString(p, event)
	if rm.ID != "" {
		p = append(p, `,"meta":`...)
		p = append(p, broadcast.IDMetadata(rm.ID)...)
	}
	p = append(p, `,"payload":`...)
	p = append(p, body...)
	p = append(p, `,"type":"broadcast"}`...)
	rm.JSON = p
	a.core.Send(rm)
	w.WriteHeader(http.StatusAccepted)
}

// persist stores the single-message endpoint's broadcast when the
// request asks for it (?persist=true or ?persist[ttl]=N) and gives rm the
// stored id. It answers 403 when the token may not store on the topic,
// 422 when storing failed, and then returns false.
func (a *API) persist(w http.ResponseWriter, r *http.Request, rm *cluster.RoomMessage, payload json.RawMessage, binary []byte) bool {
	q := r.URL.Query()
	if q.Get("persist") != "true" && !q.Has("persist[ttl]") {
		return true
	}
	topic, event := r.PathValue("topic"), r.PathValue("event")
	if rm.Room.Private && !a.mayWrite(r, topic, policy.Persistence) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": policy.StoreRefusal(topic)})
		return false
	}
	id, err := a.core.Store(rm.Room, event, payload, binary)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Unable to store the message: " + err.Error()})
		return false
	}
	rm.ID = id
	if rm.Binary != nil {
		rm.Binary.Metadata = broadcast.IDMetadata(id)
	}
	return true
}
