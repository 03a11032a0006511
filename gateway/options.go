package gateway

import (
	"log/slog"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/gateway/authz"
)

// Defaults of the options whose zero value means "the default". They are
// the defaults of the environment variables too (cmd/realtime uses them).
const (
	DefaultMaxRecordBytes    = 1 << 20   // MAX_RECORD_BYTES, as the original
	DefaultMaxBroadcastBytes = 3_000_000 // MAX_BROADCAST_BYTES, the original's 3000 KB
)

// HubOptions configures a Hub. It takes them all at construction: nothing
// is attached to a hub afterwards. The zero value of every field is
// documented; the zero HubOptions is a lone gateway without authorization.
type HubOptions struct {
	// Logger receives the hub's logs. Nil: slog.Default() with
	// component=hub.
	Logger *slog.Logger
	// Confirm is called with a transaction's commit LSN once every change
	// of the transaction was handed to the sockets' queues. Nil: nobody is
	// told (a cluster node confirms what NATS acknowledged instead).
	Confirm func(pglogrepl.LSN)
	// Relay shares rooms and interests with the other gateways of a
	// cluster. Nil: a lone gateway.
	Relay Relay
	// Authorizer decides who may see which change (secure channels). Nil:
	// every change goes to every matching subscriber (SECURE_CHANNELS=false).
	// Hub.Run runs its refresher.
	Authorizer *authz.Authorizer
	// MaxRecordBytes marks a change whose record is larger as TooLarge
	// (sent with "Error 413" and only its small values). Zero:
	// DefaultMaxRecordBytes; negative: no limit.
	MaxRecordBytes int
	// MaxBroadcastBytes drops larger broadcasts from the database (logged
	// and counted). Zero: DefaultMaxBroadcastBytes; negative: no limit.
	MaxBroadcastBytes int
}

// orDefault returns def for zero, 0 (the hub's "no limit") for a negative
// n, and n otherwise.
func orDefault(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}
