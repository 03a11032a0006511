package main

import (
	"log/slog"
	"testing"
	"time"
)

// A 0 in the environment that means "no limit", "none" or "at once" reaches
// the options as a negative value, since there zero means the default;
// other values pass unchanged.
func TestOptionsKeepTheEnvironmentsZero(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{"SECURE_CHANNELS": "false", "MAX_SOCKETS": "0", "MAX_JOINS_PER_SECOND": "0",
		"MAX_CHANNELS_PER_CLIENT": "0", "OUTBOUND_QUEUE_BYTES": "0", "SLOW_CONSUMER_GRACE_MS": "0", "MAX_BROADCAST_BYTES": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	o := cfg.serverOptions(log, nil)
	if o.MaxSockets != -1 || o.MaxJoinsPerSecond != -1 || o.MaxChannelsPerSocket != -1 || o.OutboundQueueBytes != -1 ||
		o.SlowConsumerGrace != -1 || o.MaxBroadcastBytes != -1 {
		t.Errorf("server options from zeros: %+v", o)
	}
	if h := cfg.hubOptions(log, nil, nil, nil); h.MaxBroadcastBytes != -1 || h.MaxRecordBytes != 1<<20 {
		t.Errorf("hub options from zeros: %+v", h)
	}
	if o.Policy != nil {
		t.Error("no checker should leave Policy nil, not a typed nil")
	}

	cfg, err = FromEnv(env(map[string]string{"SECURE_CHANNELS": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	o = cfg.serverOptions(log, nil)
	if o.MaxSockets != 50_000 || o.MaxJoinsPerSecond != 100 || o.SlowConsumerGrace != 2*time.Second || o.IdleTimeout != 60*time.Second {
		t.Errorf("server options from defaults: %+v", o)
	}
}
