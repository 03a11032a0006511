package join

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pgrealtime/realtime/gateway/private"
)

// Config is the "config" of a realtime-js 2.x join.
type Config struct {
	Broadcast struct {
		Self FlexBool `json:"self"`
		Ack  FlexBool `json:"ack"`
		// Replay and ReplicationReady are read by the gateway's replay.
		Replay           *private.ReplayOption `json:"replay"`
		ReplicationReady FlexBool              `json:"replication_ready"`
	} `json:"broadcast"`
	Presence struct {
		Key     string   `json:"key"`
		Enabled FlexBool `json:"enabled"`
	} `json:"presence"`
	PostgresChanges []json.RawMessage `json:"postgres_changes"`
	Private         FlexBool          `json:"private"`
}

// FlexBool accepts true/false and the strings "true"/"false" in any case,
// as the original does; null and "" are false.
type FlexBool bool

func (b *FlexBool) UnmarshalJSON(data []byte) error {
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
