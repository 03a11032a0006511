package join

import "time"

// Rate counts a socket's joins in one-second windows, so a join flood is
// refused before it costs catalog lookups. The zero value is ready. It is
// the socket reader's own and not safe for concurrent use.
type Rate struct {
	start time.Time
	n     int
}

// Allow counts a join at now and reports whether it is within max per
// second; max <= 0 allows every join.
func (r *Rate) Allow(now time.Time, max int) bool {
	if max <= 0 {
		return true
	}
	if now.Sub(r.start) >= time.Second {
		r.start, r.n = now, 0
	}
	r.n++
	return r.n <= max
}
