package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pgrealtime/realtime/replication"
)

// Stats is the core's counters at one moment, read per request so that
// serving sockets pays for nothing but keeping them.
type Stats struct {
	Sockets  int
	Channels int64
	// Lag is the commit-to-routing delay of the last transaction routed.
	Lag                      time.Duration
	Changes, Messages, Bytes int64
	// Disconnects counts closed sockets by reason, every reason listed.
	Disconnects                []Count
	BadFrames, Panics, Refused int64
	// RouterWait is the time routing spent waiting for full sockets.
	RouterWait time.Duration
	// Live reports whether changes are flowing; Replication says why not.
	Live        bool
	Replication replication.Status
}

// Count is one labelled counter.
type Count struct {
	Label string
	N     int64
}

// serveHealth answers GET /health and GET /: 503 while changes are not
// flowing, so a load balancer stops sending sockets that would get none.
func (a *API) serveHealth(w http.ResponseWriter, r *http.Request) {
	s := a.core.Stats()
	st := s.Replication
	body := map[string]any{
		"live":          s.Live,
		"sockets":       s.Sockets,
		"slot":          st.Slot,
		"temporary":     st.Temporary,
		"confirmed_lsn": st.ConfirmedLSN.String(),
		"lag_bytes":     st.LagBytes,
		"reconnects":    st.Reconnects,
	}
	if st.LastError != "" {
		body["last_error"] = st.LastError
	}
	if st.Stalled != "" {
		body["stalled"] = st.Stalled
	}
	w.Header().Set("Content-Type", "application/json")
	if !s.Live {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}
