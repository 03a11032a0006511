package main

import (
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/gateway"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/gateway/policy"
	"github.com/pgrealtime/realtime/replication"
)

// The packages take plain options at construction; this file is the one
// place that turns the process's Config into them.
//
// One translation recurs: in the environment, 0 means something for some
// limits ("no limit", "none", "at once"), while in the packages' options
// zero means the default and a negative value means what 0 meant here.
// explicitZero carries a setting across.
func explicitZero[T int | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// replicationConfig is the stream's (or, in a cluster, each slot holder's)
// configuration; pubs are the user's publications plus those the realtime
// schema adds.
func (c Config) replicationConfig(pubs []string, log *slog.Logger) replication.Config {
	return replication.Config{
		ConnString:        c.ConnString(),
		Publications:      pubs,
		SlotName:          c.SlotName,
		TemporarySlot:     c.TemporarySlot,
		MaxLagMB:          c.MaxLagMB,
		RecreateStuckSlot: c.RecreateStuckSlot,
		Logger:            log.With("component", "replication"),
		AfterConnect:      c.AfterConnectQuery,
	}
}

func (c Config) clusterConfig(repl replication.Config, log *slog.Logger) cluster.Config {
	return cluster.Config{
		NATSURL:     c.ClusterNATSURL,
		Prefix:      c.ClusterName,
		Replication: repl,
		RejoinGrace: c.RejoinGrace,
		Logger:      log.With("component", "cluster"),
	}
}

// authorizer returns who decides which subscriber may see which change
// when channels are secure, and nil when they are not.
func (c Config) authorizer(log *slog.Logger) (*authz.Authorizer, error) {
	if !c.SecureChannels {
		return nil, nil
	}
	// Not DB_AFTER_CONNECT_QUERY: it sets up the gateway's own connections
	// (search_path TO _realtime in Supabase's self-hosted stack), and the
	// checks must run as the subscriber's own session would, or policies
	// calling functions with unqualified names would fail and hide rows.
	return authz.New(authz.Config{
		ConnString:   c.ConnString(),
		Publications: c.Publications,
		Logger:       log.With("component", "authz"),
	})
}

// policy returns the checker of private channels when the schema they are
// checked against is in place, else nil; the caller closes it.
func (c Config) policy(schemaReady bool) *policy.Checker {
	if !schemaReady {
		return nil
	}
	return policy.New(c.ConnString(), c.AfterConnectQuery)
}

// hubOptions is everything the hub is built with: confirm is the lone
// gateway's stream, relay the cluster node (one of them is nil).
func (c Config) hubOptions(log *slog.Logger, a *authz.Authorizer, confirm func(pglogrepl.LSN), relay gateway.Relay) gateway.HubOptions {
	return gateway.HubOptions{
		Logger:         log.With("component", "hub"),
		Confirm:        confirm,
		Relay:          relay,
		Authorizer:     a,
		MaxRecordBytes: c.MaxRecordBytes,
		// MAX_BROADCAST_BYTES=0 has never limited broadcasts from the
		// database (while it refuses every client broadcast with a
		// payload, below).
		MaxBroadcastBytes: explicitZero(c.MaxBroadcastBytes),
	}
}

// serverOptions is what the HTTP and WebSocket server is built with. p may
// be nil: private channels are then refused on a secure gateway.
func (c Config) serverOptions(log *slog.Logger, p *policy.Checker) gateway.Options {
	o := gateway.Options{
		Logger:               log.With("component", "server"),
		SecureChannels:       c.SecureChannels,
		JWTSecret:            c.JWTSecret,
		JWKS:                 c.JWKS,
		ClaimValidators:      c.ClaimValidators,
		Publications:         c.Publications,
		Tenant:               c.Tenant,
		TenantFromHost:       c.TenantFromHost,
		CORSOrigins:          c.CORSOrigins,
		ExposeMetrics:        c.ExposeMetrics,
		MaxFrameBytes:        c.MaxFrameBytes,
		MaxChannelsPerSocket: explicitZero(c.MaxChannelsPerSocket),
		MaxJoinsPerSecond:    explicitZero(c.MaxJoinsPerSecond),
		MaxSockets:           explicitZero(c.MaxSockets),
		OutboundQueueBytes:   explicitZero(c.OutboundQueueBytes),
		SlowConsumerGrace:    explicitZero(c.SlowConsumerGrace),
		MaxBroadcastBytes:    explicitZero(c.MaxBroadcastBytes),
		IdleTimeout:          c.IdleTimeout,
		WriteTimeout:         c.WriteTimeout,
	}
	// A nil *policy.Checker in the interface would look like a policy.
	if p != nil {
		o.Policy = p
	}
	return o
}
