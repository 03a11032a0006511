package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/gateway/token"
	"github.com/pgrealtime/realtime/replication"
)

// The options of this package follow one rule: the zero value of a field
// is its default, below; where a limit can also be lifted or shut, a
// negative value does that, as the field says. The defaults are those of
// the environment variables (cmd/realtime fills its Config from them).
const (
	DefaultMaxRecordBytes       = 1 << 20   // MAX_RECORD_BYTES, as the original
	DefaultMaxBroadcastBytes    = 3_000_000 // MAX_BROADCAST_BYTES, the original's 3000 KB
	DefaultMaxFrameBytes        = 5_000_000 // MAX_FRAME_BYTES, like the current original
	DefaultMaxChannelsPerSocket = 100       // MAX_CHANNELS_PER_CLIENT, like the original
	DefaultMaxJoinsPerSecond    = 100       // MAX_JOINS_PER_SECOND
	DefaultMaxSockets           = 50_000    // MAX_SOCKETS
	DefaultOutboundQueueBytes   = 4 << 20   // OUTBOUND_QUEUE_BYTES
	DefaultSlowConsumerGrace    = 2 * time.Second
	DefaultIdleTimeout          = 60 * time.Second // Phoenix's
	DefaultWriteTimeout         = 10 * time.Second
	// DefaultTenant is the tenant the 2.x image seeds with
	// SEED_SELF_HOST=true, and the first label of the container name
	// Supabase's compose file gives it (realtime-dev.supabase-realtime).
	DefaultTenant = "realtime-dev"
)

// Options configures a Server: what it needs while it serves, and nothing
// of where it came from (cmd/realtime reads the environment). See the rule
// above for zero and negative values.
type Options struct {
	// Logger receives the server's and its sockets' logs. Nil:
	// slog.Default() with component=server.
	Logger *slog.Logger

	// SecureChannels requires a valid JWT to connect and to join. False
	// (the zero value) accepts every client: trusted networks only.
	SecureChannels bool
	// JWTSecret verifies HS256/384/512 tokens; JWKS, a JSON Web Key Set,
	// verifies asymmetric ones (RS*, PS*, ES*, EdDSA). With SecureChannels
	// at least one is required. Either one, when set, also guards the
	// admin health route.
	JWTSecret string
	JWKS      string
	// ClaimValidators are claims every token must carry with exactly these
	// values. Nil: none.
	ClaimValidators map[string]any
	// Policy authorizes private channels (RLS on realtime.messages). Nil:
	// a secure server refuses private joins, as nothing could tell who may
	// read them.
	Policy private.Policy

	// Publications are the user's publications, named in join errors.
	// Nil: [replication.DefaultPublication].
	Publications []string
	// Tenant is the one tenant served, named by the admin health route.
	// Empty: DefaultTenant.
	Tenant string
	// TenantFromHost refuses sockets and REST broadcasts whose Host does
	// not name Tenant in its first label, as the 2.x server does. False:
	// any host.
	TenantFromHost bool
	// CORSOrigins are the browser origins allowed to call the HTTP API.
	// Nil: ["*"], any origin.
	CORSOrigins []string
	// ExposeMetrics serves Prometheus metrics at /metrics. False: no route.
	ExposeMetrics bool

	// MaxFrameBytes is the largest frame a client may send. Zero:
	// DefaultMaxFrameBytes.
	MaxFrameBytes int64
	// MaxChannelsPerSocket caps joined channels per socket. Zero:
	// DefaultMaxChannelsPerSocket; negative: no channel may be joined.
	MaxChannelsPerSocket int
	// MaxJoinsPerSecond caps phx_join per socket and second. Zero:
	// DefaultMaxJoinsPerSecond; negative: no limit.
	MaxJoinsPerSecond int
	// MaxSockets caps connected sockets; more are refused with HTTP 503.
	// Zero: DefaultMaxSockets; negative: no limit.
	MaxSockets int
	// OutboundQueueBytes is how much may wait for a socket before routing
	// waits for it. Zero: DefaultOutboundQueueBytes; negative: nothing may
	// wait behind a frame being written.
	OutboundQueueBytes int
	// SlowConsumerGrace is how long a socket may stay behind (its queue
	// full) before it is closed as a slow consumer; a few laggards run
	// over the queue limit meanwhile and nobody waits for them (see
	// outbox.Box.pushOver). Zero: DefaultSlowConsumerGrace; negative: closed at
	// once.
	SlowConsumerGrace time.Duration
	// MaxBroadcastBytes caps one broadcast payload from a client or the
	// HTTP API. Zero: DefaultMaxBroadcastBytes; negative: only empty
	// payloads pass.
	MaxBroadcastBytes int
	// IdleTimeout closes a socket that sent nothing for this long. Zero:
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a socket. Zero: DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// withDefaults returns o as the server reads it: defaults for zero
// values, and 0 for negative ones, which the code that reads them takes
// as "none" or "no limit". It reports what the server cannot run with.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.SecureChannels && o.JWTSecret == "" && o.JWKS == "" {
		errs = append(errs, errors.New("secure channels need a JWTSecret or a JWKS"))
	}
	if _, err := token.ParseJWKS(o.JWKS); o.JWKS != "" && err != nil {
		errs = append(errs, fmt.Errorf("JWKS: %w", err))
	}
	if o.Logger == nil {
		o.Logger = slog.Default().With("component", "server")
	}
	if len(o.Publications) == 0 {
		o.Publications = []string{replication.DefaultPublication}
	}
	o.Tenant = cmp.Or(o.Tenant, DefaultTenant)
	if len(o.CORSOrigins) == 0 {
		o.CORSOrigins = []string{"*"}
	}
	o.MaxFrameBytes = cmp.Or(o.MaxFrameBytes, DefaultMaxFrameBytes)
	o.MaxChannelsPerSocket = orDefault(o.MaxChannelsPerSocket, DefaultMaxChannelsPerSocket)
	o.MaxJoinsPerSecond = orDefault(o.MaxJoinsPerSecond, DefaultMaxJoinsPerSecond)
	o.MaxSockets = orDefault(o.MaxSockets, DefaultMaxSockets)
	o.OutboundQueueBytes = orDefault(o.OutboundQueueBytes, DefaultOutboundQueueBytes)
	o.SlowConsumerGrace = orDefault(o.SlowConsumerGrace, DefaultSlowConsumerGrace)
	o.MaxBroadcastBytes = orDefault(o.MaxBroadcastBytes, DefaultMaxBroadcastBytes)
	o.IdleTimeout = orDefault(o.IdleTimeout, DefaultIdleTimeout)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout)
	return o, errors.Join(errs...)
}

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

// orDefault returns def for zero, 0 (which the code reading it takes as
// "none" or "no limit") for a negative n, and n otherwise.
func orDefault[T int | time.Duration](n, def T) T {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}
