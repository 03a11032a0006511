package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/gateway/policy"
	"github.com/pgrealtime/realtime/phoenix"
)

type apiBroadcast struct {
	Messages []struct {
		Topic   string          `json:"topic"`
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
		Private bool            `json:"private"`
		ID      string          `json:"id"`
	} `json:"messages"`
}

// serveBroadcast is POST /api/broadcast: servers push broadcasts without a
// socket. Topics come without the "realtime:" prefix, as in the original.
func (a *API) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(a.cfg.MaxBroadcastBytes)+64<<10))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": err.Error()})
		return
	}
	var req apiBroadcast
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]string{"body": "want {\"messages\":[{\"topic\",\"event\",\"payload\"}]}: " + err.Error()}})
		return
	}
	for i, m := range req.Messages {
		if m.Topic == "" || m.Event == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]string{fmt.Sprintf("messages[%d]", i): "topic and event are required"}})
			return
		}
	}
	for _, m := range req.Messages {
		p := []byte(`{"event":`)
		p = phoenix.AppendString(p, m.Event)
		if m.ID != "" {
			p = append(p, `,"meta":{"id":`...)
			p = phoenix.AppendString(p, m.ID)
			p = append(p, '}')
		}
		p = append(p, `,"payload":`...)
		if len(m.Payload) == 0 {
			p = append(p, "{}"...)
		} else {
			p = append(p, m.Payload...)
		}
		p = append(p, `,"type":"broadcast"}`...)
		if m.Private && !a.mayWrite(r, m.Topic, policy.Broadcast) {
			continue // skipped without a word, as the original does
		}
		topic := filters.TopicPrefix + m.Topic
		a.core.Send(cluster.RoomMessage{Room: cluster.RoomRef{Private: m.Private, Topic: topic}, JSON: p})
	}
	w.WriteHeader(http.StatusAccepted)
}
