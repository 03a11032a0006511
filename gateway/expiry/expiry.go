// Package expiry holds when each of a socket's channels stops being
// authorized (its token's exp), with one timer armed for the earliest, so
// a socket with many channels costs one timer, not one per channel.
//
// # Concurrency
//
// A Set is safe for concurrent use and guards its times and its timer with
// its own mutex, never held while calling out. The gateway keeps one per
// socket: the socket's reader tracks and untracks as channels join, leave
// and refresh their token; the timer's goroutine, and whoever else closes a
// channel (a failed recheck of a private channel), untrack; the socket's
// close stops it. The due callback runs on the timer's goroutine, without
// the Set's lock, so it may untrack and track again.
package expiry

import (
	"sync"
	"time"
)

// Set is the expiry times of keys (the gateway's channels) of one socket.
type Set[K comparable] struct {
	due func([]K)

	mu    sync.Mutex
	at    map[K]time.Time
	timer *time.Timer
}

// New returns an empty set that calls due with the keys whose time has
// come, once each, after removing them.
func New[K comparable](due func([]K)) *Set[K] {
	return &Set[K]{due: due}
}

// Track records (or moves) k's expiry.
func (s *Set[K]) Track(k K, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[K]time.Time{}
	}
	s.at[k] = at
	s.armLocked()
}

// Untrack forgets k's expiry.
func (s *Set[K]) Untrack(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.at, k)
	s.armLocked()
}

// Stop forgets every expiry and stops the timer, for a socket that closed.
func (s *Set[K]) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = nil
	if s.timer != nil {
		s.timer.Stop()
	}
}

func (s *Set[K]) armLocked() {
	var first time.Time
	for _, t := range s.at {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	if first.IsZero() {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	d := time.Until(first)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
}

// fire runs on the timer: it hands the due keys to the callback.
func (s *Set[K]) fire() {
	s.mu.Lock()
	now := time.Now()
	var due []K
	for k, t := range s.at {
		if !now.Before(t) {
			due = append(due, k)
			delete(s.at, k)
		}
	}
	s.armLocked()
	s.mu.Unlock()
	if len(due) > 0 {
		s.due(due)
	}
}
