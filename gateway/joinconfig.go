package gateway

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pgrealtime/realtime/gateway/private"
)

// joinConfig is the "config" of a realtime-js 2.x join.
type joinConfig struct {
	Broadcast struct {
		Self flexBool `json:"self"`
		Ack  flexBool `json:"ack"`
		// Replay and ReplicationReady are read by replay.go.
		Replay           *private.ReplayOption `json:"replay"`
		ReplicationReady flexBool              `json:"replication_ready"`
	} `json:"broadcast"`
	Presence struct {
		Key     string   `json:"key"`
		Enabled flexBool `json:"enabled"`
	} `json:"presence"`
	PostgresChanges []json.RawMessage `json:"postgres_changes"`
	Private         flexBool          `json:"private"`
}

// flexBool accepts true/false and the strings "true"/"false" in any case,
// as the original does.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(strings.Trim(string(data), `"`)) {
	case "true":
		*b = true
	case "false", "null", "":
		*b = false
	default:
		return fmt.Errorf("want true or false, got %s", data)
	}
	return nil
}
