package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgrealtime/realtime/gateway"
	"github.com/pgrealtime/realtime/gateway/token"
	"github.com/pgrealtime/realtime/replication"
)

// Config is the process's configuration. FromEnv fills it from the same
// environment variables as the supabase/realtime v1 image, and run turns
// it into the options of each package (options.go): the packages never
// see the environment, and nothing here outlives their construction.
type Config struct {
	// Port is the HTTP and WebSocket port (PORT, default 4000).
	Port int
	// IPv4Only listens on IPv4 only (REALTIME_IP_VERSION=IPv4); the default
	// listens on both families.
	IPv4Only bool

	DBHost     string // DB_HOST, default localhost
	DBPort     int    // DB_PORT, default 5432
	DBName     string // DB_NAME, default postgres
	DBUser     string // DB_USER, default postgres
	DBPassword string // DB_PASSWORD or the file named by DB_PASSWORD_FILE, default postgres
	// DBSSL tries TLS first and falls back to plain (DB_SSL, default true),
	// as the original's epgsql does; false never tries TLS.
	DBSSL bool

	Publications  []string // PUBLICATIONS, a JSON array, default ["supabase_realtime"]
	SlotName      string   // SLOT_NAME; empty means a temporary slot
	TemporarySlot bool     // TEMPORARY_SLOT
	MaxLagMB      int      // MAX_REPLICATION_LAG_MB, 0 = off
	// RecreateStuckSlot lets the gateway drop and recreate a permanent slot
	// that cannot decode past some point of the WAL, skipping what was
	// committed since (RECREATE_STUCK_SLOT, default false).
	RecreateStuckSlot bool

	// Migrations lets the gateway create the realtime schema that private
	// channels and broadcast from the database need, and keep the daily
	// partitions of realtime.messages (REALTIME_MIGRATIONS, default true).
	// false leaves the schema to the user: a missing object is then
	// reported by name at start and those features stay off.
	Migrations bool

	// SecureChannels requires a valid JWT to connect and to join
	// (SECURE_CHANNELS, default true as in the image).
	SecureChannels  bool
	JWTSecret       string         // JWT_SECRET or the file named by JWT_SECRET_FILE
	ClaimValidators map[string]any // JWT_CLAIM_VALIDATORS, a JSON object
	// JWKS holds public keys for asymmetric tokens (RS*, PS*, ES*, EdDSA)
	// as a JSON Web Key Set (JWT_JWKS or the file named by JWT_JWKS_FILE),
	// as current Supabase projects sign them.
	JWKS string

	// Settings of Supabase's self-hosted stack (the 2.x image); see
	// selfhost.go here, and gateway/httpapi (tenant.go, cors.go).

	// Tenant is the one tenant this gateway serves
	// (SELF_HOST_TENANT_NAME, default "realtime-dev" as the 2.x image seeds it).
	Tenant string
	// TenantFromHost refuses sockets and REST broadcasts whose Host does not
	// name Tenant in its first label, as the 2.x server does
	// (SEED_SELF_HOST=true or SELF_HOST_TENANT_NAME set). Off by default, so
	// that localhost and IP addresses keep working.
	TenantFromHost bool
	// AfterConnectQuery is SQL run on each ordinary database connection
	// after it opens (DB_AFTER_CONNECT_QUERY); never on the replication
	// connection.
	AfterConnectQuery string
	// CORSOrigins are the browser origins allowed to call the HTTP API
	// (CORS_ALLOWED_ORIGINS, comma-separated; default "*", any origin, as
	// the cors plugin of Supabase's Kong).
	CORSOrigins []string

	ExposeMetrics bool // EXPOSE_METRICS
	// PprofAddr, when set, serves net/http/pprof there (PPROF=true serves
	// it on PPROF_ADDR, default 127.0.0.1:6060; off by default).
	PprofAddr string
	LogLevel  string // LOG_LEVEL: debug, info, warning, error (default info)
	LogFormat string // LOG_FORMAT: text or json (default text)

	// MaxFrameBytes is the largest frame a client may send (MAX_FRAME_BYTES,
	// default 5,000,000 like the current original).
	MaxFrameBytes int64
	// MaxChannelsPerSocket caps joined channels per socket
	// (MAX_CHANNELS_PER_CLIENT, default 100 like the original).
	MaxChannelsPerSocket int
	// MaxJoinsPerSecond caps phx_join per socket and second
	// (MAX_JOINS_PER_SECOND, default 100); 0 = no limit.
	MaxJoinsPerSecond int
	// MaxSockets caps connected sockets; more are refused with HTTP 503
	// (MAX_SOCKETS, default 50,000); 0 = no limit.
	MaxSockets int
	// MaxRecordBytes caps one change's record (MAX_RECORD_BYTES, default
	// 1 MiB as in the original): above it, the payload says
	// "Error 413: Payload Too Large" and keeps only values of at most 64 bytes.
	MaxRecordBytes int
	// OutboundQueueBytes is how much a socket may have waiting to be written
	// before it is disconnected as a slow consumer (OUTBOUND_QUEUE_BYTES,
	// default 4 MiB).
	OutboundQueueBytes int
	// SlowConsumerGrace is how long a socket may stay behind (its queue
	// full) before it is closed as a slow consumer (SLOW_CONSUMER_GRACE_MS,
	// default 2 s).
	SlowConsumerGrace time.Duration
	// MaxBroadcastBytes caps one broadcast payload (MAX_BROADCAST_BYTES,
	// default 3,000,000 like the original's 3000 KB).
	MaxBroadcastBytes int
	// RejoinGrace holds routing at startup so that clients of a gateway
	// that crashed or restarted can reconnect and rejoin before the changes
	// committed meanwhile are routed (REJOIN_GRACE_MS; default 10 s with a
	// permanent slot, which kept those changes, and 0 with a temporary one).
	RejoinGrace time.Duration
	// ClusterNATSURL turns on clustering (CLUSTER_NATS_URL, off by
	// default): gateways that share it and the database act as one, one of
	// them holding the replication slot at a time.
	ClusterNATSURL string
	// ClusterName starts the cluster's NATS subjects (CLUSTER_NAME, default
	// "realtime"), so that clusters can share a NATS server.
	ClusterName string
	// ShutdownDrain bounds how long a graceful shutdown (SIGTERM) lets
	// sockets write what they were already handed before closing them
	// (SHUTDOWN_DRAIN_MS, default 3 s: well inside the 10 s Docker and
	// Kubernetes wait before SIGKILL). A socket still behind then is
	// closed without the rest; every other socket gets all of it.
	ShutdownDrain time.Duration
	// IdleTimeout closes a socket that sent nothing for this long (Phoenix: 60 s).
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a socket.
	WriteTimeout time.Duration
}

// Defaults returns the configuration with every default filled in.
func Defaults() Config {
	return Config{
		Port:                 4000,
		DBHost:               "localhost",
		DBPort:               5432,
		DBName:               "postgres",
		DBUser:               "postgres",
		DBPassword:           "postgres",
		DBSSL:                true,
		Publications:         []string{replication.DefaultPublication},
		SecureChannels:       true,
		Migrations:           true,
		Tenant:               gateway.DefaultTenant,
		CORSOrigins:          []string{"*"},
		LogLevel:             "info",
		LogFormat:            "text",
		MaxFrameBytes:        gateway.DefaultMaxFrameBytes,
		MaxChannelsPerSocket: gateway.DefaultMaxChannelsPerSocket,
		MaxJoinsPerSecond:    gateway.DefaultMaxJoinsPerSecond,
		MaxSockets:           gateway.DefaultMaxSockets,
		MaxRecordBytes:       gateway.DefaultMaxRecordBytes,
		OutboundQueueBytes:   gateway.DefaultOutboundQueueBytes,
		MaxBroadcastBytes:    gateway.DefaultMaxBroadcastBytes,
		SlowConsumerGrace:    gateway.DefaultSlowConsumerGrace,
		ShutdownDrain:        3 * time.Second,
		IdleTimeout:          gateway.DefaultIdleTimeout,
		WriteTimeout:         gateway.DefaultWriteTimeout,
	}
}

// FromEnv reads the configuration from the environment through lookup
// (os.LookupEnv in production). It reports every problem at once.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Defaults()
	var errs []error
	get := func(k string) (string, bool) {
		v, ok := lookup(k)
		return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
	}
	str := func(k string, dst *string) {
		if v, ok := get(k); ok {
			*dst = v
		}
	}
	num := func(k string, dst *int) {
		if v, ok := get(k); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a non-negative whole number", k, v))
				return
			}
			*dst = n
		}
	}
	// The original treats anything but "false" as true for its true-by-default
	// switches, and only "true" as true for the others.
	boolean := func(k string, dst *bool) {
		if v, ok := get(k); ok {
			if *dst {
				*dst = !strings.EqualFold(v, "false")
			} else {
				*dst = strings.EqualFold(v, "true")
			}
		}
	}
	secret := func(k string, dst *string) {
		str(k, dst)
		if path, ok := get(k + "_FILE"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", k, err))
				return
			}
			*dst = strings.TrimSpace(string(b))
		}
	}

	num("PORT", &c.Port)
	str("CLUSTER_NATS_URL", &c.ClusterNATSURL)
	str("CLUSTER_NAME", &c.ClusterName)
	if v, ok := get("REALTIME_IP_VERSION"); ok {
		switch strings.ToLower(v) {
		case "ipv4":
			c.IPv4Only = true
		case "ipv6":
		default:
			errs = append(errs, fmt.Errorf("REALTIME_IP_VERSION=%q: want IPv4 or IPv6", v))
		}
	}
	str("DB_HOST", &c.DBHost)
	num("DB_PORT", &c.DBPort)
	str("DB_NAME", &c.DBName)
	str("DB_USER", &c.DBUser)
	secret("DB_PASSWORD", &c.DBPassword)
	boolean("DB_SSL", &c.DBSSL)
	if v, ok := get("PUBLICATIONS"); ok {
		var pubs []string
		if err := json.Unmarshal([]byte(v), &pubs); err != nil || len(pubs) == 0 || slices.Contains(pubs, "") {
			errs = append(errs, fmt.Errorf(`PUBLICATIONS=%q: want a non-empty JSON array of non-empty names, e.g. ["supabase_realtime"]`, v))
		} else {
			c.Publications = pubs
		}
	}
	str("SLOT_NAME", &c.SlotName)
	boolean("TEMPORARY_SLOT", &c.TemporarySlot)
	num("MAX_REPLICATION_LAG_MB", &c.MaxLagMB)
	boolean("RECREATE_STUCK_SLOT", &c.RecreateStuckSlot)
	boolean("SECURE_CHANNELS", &c.SecureChannels)
	boolean("REALTIME_MIGRATIONS", &c.Migrations)
	secret("JWT_SECRET", &c.JWTSecret)
	if v, ok := get("JWT_CLAIM_VALIDATORS"); ok {
		if err := json.Unmarshal([]byte(v), &c.ClaimValidators); err != nil {
			errs = append(errs, fmt.Errorf(`JWT_CLAIM_VALIDATORS=%q: want a JSON object such as {"iss":"supabase"}: %v`, v, err))
		}
	}
	secret("JWT_JWKS", &c.JWKS)
	errs = append(errs, c.selfHostEnv(get, secret)...)
	boolean("EXPOSE_METRICS", &c.ExposeMetrics)
	var pprofOn bool
	boolean("PPROF", &pprofOn)
	if pprofOn {
		c.PprofAddr = "127.0.0.1:6060"
		str("PPROF_ADDR", &c.PprofAddr)
	}
	str("LOG_LEVEL", &c.LogLevel)
	str("LOG_FORMAT", &c.LogFormat)
	var frame int
	num("MAX_FRAME_BYTES", &frame)
	if frame > 0 {
		c.MaxFrameBytes = int64(frame)
	}
	num("MAX_CHANNELS_PER_CLIENT", &c.MaxChannelsPerSocket)
	num("MAX_JOINS_PER_SECOND", &c.MaxJoinsPerSecond)
	num("MAX_SOCKETS", &c.MaxSockets)
	num("MAX_RECORD_BYTES", &c.MaxRecordBytes)
	num("OUTBOUND_QUEUE_BYTES", &c.OutboundQueueBytes)
	num("MAX_BROADCAST_BYTES", &c.MaxBroadcastBytes)
	slow := -1
	num("SLOW_CONSUMER_GRACE_MS", &slow)
	if slow >= 0 {
		c.SlowConsumerGrace = time.Duration(slow) * time.Millisecond
	}
	drain := -1
	num("SHUTDOWN_DRAIN_MS", &drain)
	if drain >= 0 {
		c.ShutdownDrain = time.Duration(drain) * time.Millisecond
	}
	grace := -1
	num("REJOIN_GRACE_MS", &grace)
	switch {
	case grace >= 0:
		c.RejoinGrace = time.Duration(grace) * time.Millisecond
	case c.SlotName != "" && !c.TemporarySlot:
		c.RejoinGrace = 10 * time.Second
	}

	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// Validate checks the combination of settings.
func (c Config) Validate() error {
	var errs []error
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT=%d: want 1-65535", c.Port))
	}
	if c.SecureChannels && c.JWTSecret == "" && c.JWKS == "" {
		errs = append(errs, errors.New("JWT secret is missing: set JWT_SECRET or API_JWT_SECRET (or JWT_JWKS for asymmetric keys), or SECURE_CHANNELS=false to accept clients without a token"))
	}
	if c.JWKS != "" {
		if _, err := token.ParseJWKS(c.JWKS); err != nil {
			errs = append(errs, fmt.Errorf("JWT_JWKS: %w", err))
		}
	}
	if c.MaxRecordBytes == 0 {
		errs = append(errs, errors.New("MAX_RECORD_BYTES=0: want a positive size in bytes"))
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q: want text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// ConnString is the libpq URL of the database the gateway replicates from.
func (c Config) ConnString() string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(c.DBUser, c.DBPassword),
		Host:   net.JoinHostPort(c.DBHost, strconv.Itoa(c.DBPort)),
		Path:   "/" + c.DBName,
	}
	q := url.Values{}
	if c.DBSSL {
		q.Set("sslmode", "prefer")
	} else {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Listen returns the network and address the HTTP server binds: IPv4 only
// ("tcp4", which Go needs: "tcp" on 0.0.0.0 also takes IPv6), or both.
func (c Config) Listen() (network, addr string) {
	if c.IPv4Only {
		return "tcp4", "0.0.0.0:" + strconv.Itoa(c.Port)
	}
	return "tcp", ":" + strconv.Itoa(c.Port)
}
