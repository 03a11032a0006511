package dbcast

// ReadyStatus is the replication_ready system event a join asked for: ok
// once broadcast from the database can flow, that is the stream is live
// and the realtime schema is in place, else an error saying which is
// missing.
func ReadyStatus(live, schema bool) (status, message string) {
	switch {
	case !live:
		return "error", "Replication connection is not ready: the gateway is not streaming from the database right now"
	case !schema:
		return "error", "Broadcast from the database is off: the realtime schema is not in place (see the gateway's logs)"
	}
	return "ok", "Replication connection established"
}
