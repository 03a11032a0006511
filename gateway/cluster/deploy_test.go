package cluster

import (
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestDeployNATSConfig checks that the NATS of deploy/cluster parses and
// lets a change of the gateway's largest record (MAX_RECORD_BYTES, 1 MiB by
// default) through as one message.
func TestDeployNATSConfig(t *testing.T) {
	opts, err := natsserver.ProcessConfigFile("../../deploy/cluster/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	if opts.MaxPayload < 2<<20 {
		t.Errorf("max_payload %d: want room for a 1 MiB record and its encoding", opts.MaxPayload)
	}
}
