package join

import (
	"testing"
	"time"
)

// A window allows max joins and refuses the rest; the next window, counted
// from the first join after a second has passed, starts afresh.
func TestRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var r Rate
	for i, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{100 * time.Millisecond, true},
		{200 * time.Millisecond, true},
		{900 * time.Millisecond, false},
		{999 * time.Millisecond, false},
		{time.Second, true},
		{1500 * time.Millisecond, true},
		{1900 * time.Millisecond, true},
		{1950 * time.Millisecond, false},
		{2 * time.Second, true},
	} {
		if got := r.Allow(t0.Add(tc.at), 3); got != tc.want {
			t.Errorf("join %d at %v: Allow = %v, want %v", i, tc.at, got, tc.want)
		}
	}
}

func TestRateUnlimited(t *testing.T) {
	var r Rate
	now := time.Now()
	for range 1000 {
		if !r.Allow(now, 0) {
			t.Fatal("Allow with max 0 refused a join")
		}
	}
}
