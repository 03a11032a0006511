package dbcast

import "testing"

// realtime-js waits for status ok; the stream matters before the schema.
func TestReadyStatus(t *testing.T) {
	for _, tc := range []struct {
		live, schema bool
		want         string
	}{{true, true, "ok"}, {false, true, "error"}, {true, false, "error"}, {false, false, "error"}} {
		status, msg := ReadyStatus(tc.live, tc.schema)
		if status != tc.want || msg == "" {
			t.Errorf("ReadyStatus(%v, %v) = %q, %q; want status %q", tc.live, tc.schema, status, msg, tc.want)
		}
	}
	_, notLive := ReadyStatus(false, true)
	_, noSchema := ReadyStatus(true, false)
	if _, both := ReadyStatus(false, false); notLive == noSchema || both != notLive {
		t.Errorf("a stream that is not live must be named first, and apart from a missing schema: %q, %q", notLive, noSchema)
	}
}
