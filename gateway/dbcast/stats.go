package dbcast

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/replication"
)

// dropReason says why a row of realtime.messages was not broadcast. Every
// drop is counted by reason and logged, at most once a minute per reason,
// since a bad trigger can write such rows by the thousand.
type dropReason uint8

const (
	dropMalformed dropReason = iota // a required column null, payload not JSON
	dropTooLarge                    // payload over MAX_BROADCAST_BYTES
	numdropReasons
)

var dropReasonNames = [numdropReasons]string{
	dropMalformed: "malformed",
	dropTooLarge:  "too_large",
}

// dropLogEvery bounds the drop log lines per reason.
const dropLogEvery = time.Minute

// Stats counts broadcasts from the database and private joins refused.
// It is a prometheus.Collector, read at scrape time.
type Stats struct {
	routed  atomic.Int64
	dropped [numdropReasons]atomic.Int64
	lastLog [numdropReasons]atomic.Int64 // unix ns of the last line logged
	// RefusedJoins counts private joins their read check refused.
	RefusedJoins atomic.Int64
}

// Accept returns the broadcast an INSERT of realtime.messages carries, and
// false for other operations, for rows that are not to be broadcast, and
// for drops: malformed rows, and payloads over maxBytes (0: no limit).
func (s *Stats) Accept(log *slog.Logger, ch *replication.Change, maxBytes int) (payload.Broadcast, bool) {
	if ch.Op != replication.Insert {
		return payload.Broadcast{}, false
	}
	m, err := payload.ParseBroadcast(ch)
	if err != nil {
		if !errors.Is(err, payload.ErrSkipBroadcast) {
			s.drop(log, dropMalformed, "reason", err, "lsn", ch.LSN.String())
		}
		return payload.Broadcast{}, false
	}
	if size := len(m.JSON) + len(m.Binary); maxBytes > 0 && size > maxBytes {
		s.drop(log, dropTooLarge, "reason", fmt.Sprintf("payload of %d bytes is over MAX_BROADCAST_BYTES (%d)", size, maxBytes), "topic", m.Topic, "id", m.ID)
		return payload.Broadcast{}, false
	}
	s.routed.Add(1)
	return m, true
}

// drop counts a dropped row and logs it unless one of its reason was
// logged less than dropLogEvery ago.
func (s *Stats) drop(log *slog.Logger, r dropReason, args ...any) {
	n := s.dropped[r].Add(1)
	now := time.Now().UnixNano()
	last := s.lastLog[r].Load()
	if now-last < int64(dropLogEvery) || !s.lastLog[r].CompareAndSwap(last, now) {
		return
	}
	log.Warn("row of realtime.messages not broadcast", append(args, "drop_reason", dropReasonNames[r], "dropped_so_far", n)...)
}

var (
	routedDesc  = prometheus.NewDesc("realtime_db_broadcasts_total", "Rows of realtime.messages broadcast to their room.", nil, nil)
	droppedDesc = prometheus.NewDesc("realtime_db_broadcasts_dropped_total", "Rows of realtime.messages not broadcast, by reason.", []string{"reason"}, nil)
	refusedDesc = prometheus.NewDesc("realtime_private_joins_refused_total", "Private channel joins refused by the RLS read check.", nil, nil)
)

func (s *Stats) Describe(ch chan<- *prometheus.Desc) {
	ch <- routedDesc
	ch <- droppedDesc
	ch <- refusedDesc
}

func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(routedDesc, prometheus.CounterValue, float64(s.routed.Load()))
	for r := range numdropReasons {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.dropped[r].Load()), dropReasonNames[r])
	}
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(s.RefusedJoins.Load()))
}
