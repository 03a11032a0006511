package private

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pgrealtime/realtime/gateway/policy"
)

// ReplayOption is config.broadcast.replay of a join: the stored broadcasts
// of a private channel since Since (ms since the epoch), at most Limit
// (capped at policy.MaxReplay).
type ReplayOption struct {
	Since json.Number `json:"since"`
	Limit json.Number `json:"limit"`
}

// Parse reads since (ms since the epoch; in the future replays nothing)
// and limit (0 or over the cap means the cap, policy.MaxReplay).
func (r *ReplayOption) Parse() (time.Time, int, error) {
	ms, err := r.Since.Int64()
	if r.Since == "" {
		ms, err = 0, nil
	}
	if err != nil || ms < 0 {
		return time.Time{}, 0, fmt.Errorf("replay.since must be a time in milliseconds since the epoch, got %q", r.Since)
	}
	limit := int64(0)
	if r.Limit != "" {
		if limit, err = r.Limit.Int64(); err != nil || limit < 0 {
			return time.Time{}, 0, fmt.Errorf("replay.limit must be a positive whole number, got %q", r.Limit)
		}
	}
	return time.UnixMilli(ms), int(min(limit, policy.MaxReplay)), nil
}

// PersistRequested reads realtime-js's persist metadata: {"persist":true}
// or {"persist":{"ttl":N}}. The ttl is accepted and not kept: stored
// broadcasts stay replayable for the partitions' retention (72 h), as in
// Supabase's server, which does not read it either.
func PersistRequested(metadata []byte) bool {
	if len(metadata) == 0 {
		return false
	}
	var m struct {
		Persist json.RawMessage `json:"persist"`
	}
	if json.Unmarshal(metadata, &m) != nil {
		return false
	}
	v := strings.TrimSpace(string(m.Persist))
	return v != "" && v != "false" && v != "null"
}
