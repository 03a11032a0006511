package private

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/gateway/policy"
)

func TestReplayConfigParse(t *testing.T) {
	for _, tc := range []struct {
		in        string
		since     int64
		limit     int
		wantError bool
	}{
		{`{"since":1700000000000,"limit":10}`, 1700000000000, 10, false},
		{`{"since":1700000000000}`, 1700000000000, policy.MaxReplay, false},
		{`{"since":1700000000000,"limit":1000000}`, 1700000000000, policy.MaxReplay, false},
		{`{"since":4102444800000,"limit":5}`, 4102444800000, 5, false}, // the future: replays nothing
		{`{"since":"yesterday"}`, 0, 0, true},
		{`{"since":-1}`, 0, 0, true},
		{`{"since":1,"limit":-3}`, 0, 0, true},
	} {
		var r ReplayOption
		if err := json.Unmarshal([]byte(tc.in), &r); err != nil {
			if !tc.wantError {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		since, limit, err := r.Parse()
		if (err != nil) != tc.wantError {
			t.Errorf("Parse(%s) error = %v, want error %v", tc.in, err, tc.wantError)
			continue
		}
		if err == nil {
			if limit == 0 {
				limit = policy.MaxReplay
			}
			if !since.Equal(time.UnixMilli(tc.since)) || limit != tc.limit {
				t.Errorf("Parse(%s) = %v, %d; want %d ms, %d", tc.in, since, limit, tc.since, tc.limit)
			}
		}
	}
}

func TestPersistRequested(t *testing.T) {
	for meta, want := range map[string]bool{``: false, `{}`: false, `{"persist":true}`: true, `{"persist":{"ttl":60}}`: true,
		`{"persist":false}`: false, `{"persist":null}`: false, `not json`: false} {
		if got := PersistRequested([]byte(meta)); got != want {
			t.Errorf("PersistRequested(%q) = %v, want %v", meta, got, want)
		}
	}
}
