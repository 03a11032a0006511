package gateway

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dropReason says why a row of realtime.messages was not broadcast. Every
// drop is counted by reason and logged, at most once a minute per reason,
// since a bad trigger can write such rows by the thousand.
type dropReason uint8

const (
	dropMalformed dropReason = iota // a required column null, payload not JSON
	dropTooLarge                    // payload over MAX_BROADCAST_BYTES
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	dropMalformed: "malformed",
	dropTooLarge:  "too_large",
}

// dropLogEvery bounds the drop log lines per reason.
const dropLogEvery = time.Minute

type dbcastStats struct {
	routed  atomic.Int64
	dropped [numDropReasons]atomic.Int64
	lastLog [numDropReasons]atomic.Int64 // unix ns of the last line logged
	// refused counts private joins their read check refused.
	refused atomic.Int64
}

// drop counts a dropped row and logs it unless one of its reason was
// logged less than dropLogEvery ago.
func (s *dbcastStats) drop(log *slog.Logger, r dropReason, args ...any) {
	n := s.dropped[r].Add(1)
	now := time.Now().UnixNano()
	last := s.lastLog[r].Load()
	if now-last < int64(dropLogEvery) || !s.lastLog[r].CompareAndSwap(last, now) {
		return
	}
	log.Warn("row of realtime.messages not broadcast", append(args, "drop_reason", dropReasonNames[r], "dropped_so_far", n)...)
}

// dbcastCollector exposes dbcastStats at scrape time.
type dbcastCollector struct{ h *Hub }

var (
	dbcastRoutedDesc  = prometheus.NewDesc("realtime_db_broadcasts_total", "Rows of realtime.messages broadcast to their room.", nil, nil)
	dbcastDroppedDesc = prometheus.NewDesc("realtime_db_broadcasts_dropped_total", "Rows of realtime.messages not broadcast, by reason.", []string{"reason"}, nil)
	privateRefusedDes = prometheus.NewDesc("realtime_private_joins_refused_total", "Private channel joins refused by the RLS read check.", nil, nil)
)

func (dbcastCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbcastRoutedDesc
	ch <- dbcastDroppedDesc
	ch <- privateRefusedDes
}

func (c dbcastCollector) Collect(ch chan<- prometheus.Metric) {
	s := &c.h.db
	ch <- prometheus.MustNewConstMetric(dbcastRoutedDesc, prometheus.CounterValue, float64(s.routed.Load()))
	for r := range numDropReasons {
		ch <- prometheus.MustNewConstMetric(dbcastDroppedDesc, prometheus.CounterValue, float64(s.dropped[r].Load()), dropReasonNames[r])
	}
	ch <- prometheus.MustNewConstMetric(privateRefusedDes, prometheus.CounterValue, float64(s.refused.Load()))
}
