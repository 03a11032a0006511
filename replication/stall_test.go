package replication

import (
	"errors"
	"testing"
	"time"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stuck := errors.New("publication does not exist")
	other := errors.New("connection reset")
	refused := errors.New("connection refused")
	type step struct {
		err   error
		live  bool
		at    time.Duration
		want  stallKind
		label string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"the same failure after streaming three times is stuck, reported once", []step{
			{stuck, true, 0, notStalled, "1st"},
			{stuck, true, time.Second, notStalled, "2nd"},
			{stuck, true, 2 * time.Second, stallStuck, "3rd"},
			{stuck, true, 3 * time.Second, notStalled, "4th: already reported"},
		}},
		{"different failures are a flaky connection, not a stuck slot", []step{
			{stuck, true, 0, notStalled, "1st"},
			{other, true, time.Second, notStalled, "2nd"},
			{stuck, true, 2 * time.Second, notStalled, "3rd"},
			{other, true, 3 * time.Second, notStalled, "4th"},
		}},
		{"a failure to connect breaks a run of stuck failures", []step{
			{stuck, true, 0, notStalled, "1st"},
			{stuck, true, time.Second, notStalled, "2nd"},
			{refused, false, 2 * time.Second, notStalled, "down"},
			{stuck, true, 3 * time.Second, notStalled, "1st again"},
		}},
		{"not streaming for downFor is down; a short restart is not", []step{
			{refused, false, 0, notStalled, "1st"},
			{refused, false, 3 * time.Second, notStalled, "3 s"},
			{refused, false, downFor, stallDown, "downFor"},
			{refused, false, downFor + time.Second, notStalled, "already reported"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w stallWatch
			for _, s := range tc.steps {
				if got := w.observe(s.err, s.live, t0.Add(s.at)); got != s.want {
					t.Errorf("%s: observe = %d, want %d", s.label, got, s.want)
				}
			}
		})
	}
}
