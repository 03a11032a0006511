package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/phoenix"
)

// refusalCode says why a phx_join was refused. Every refusal has one; it is
// counted (realtime_join_refusals_total{code}), so "why can my client not
// join" has an answer on a dashboard and not only in a client's console.
type refusalCode uint8

const (
	refusalBadPayload            refusalCode = iota // the join payload is not a JSON object
	refusalRateLimited                              // more joins per second than MAX_JOINS_PER_SECOND
	refusalTooManyChannels                          // MAX_CHANNELS_PER_CLIENT reached
	refusalInvalidToken                             // the channel's JWT is invalid, expired or lacks role/exp
	refusalInitializing                             // the first replication slot does not exist yet
	refusalBadTopic                                 // the topic names nothing a join can subscribe to
	refusalBadConfig                                // config (or a postgres_changes entry) is malformed
	refusalUndeliverable                            // a table topic whose table, column or publication is missing
	refusalUnauthorized                             // a private channel's read check refused
	refusalRoleRefused                              // the gateway cannot act as the token's role
	refusalPrivilegesUnavailable                    // what the role may read could not be learnt
	refusalClusterUnavailable                       // the cluster could not be told of the join
	numRefusalCodes
)

var refusalCodeNames = [numRefusalCodes]string{
	refusalBadPayload:            "bad_payload",
	refusalRateLimited:           "rate_limited",
	refusalTooManyChannels:       "too_many_channels",
	refusalInvalidToken:          "invalid_token",
	refusalInitializing:          "initializing",
	refusalBadTopic:              "bad_topic",
	refusalBadConfig:             "bad_config",
	refusalUndeliverable:         "undeliverable",
	refusalUnauthorized:          "unauthorized",
	refusalRoleRefused:           "role_refused",
	refusalPrivilegesUnavailable: "privileges_unavailable",
	refusalClusterUnavailable:    "cluster_unavailable",
}

func (c refusalCode) String() string { return refusalCodeNames[c] }

// refusal is a refused join: its code, for the metric and the log, and
// the reason the client reads in {"status":"error","response":{"reason":…}}.
// Where the original server refuses for the same cause, the reason is its
// text byte for byte (realtime-js shows it, and some apps match on its
// leading code word, "ChannelRateLimitReached" and the like).
//
// Each cause builds its refusal in exactly one function below, so this file
// is the list of every reason a join can get.
type refusal struct {
	code refusalCode
	msg  string
}

func refuseBadPayload() *refusal {
	return &refusal{refusalBadPayload, "join payload must be a JSON object"}
}

func refuseJoinRate(max int) *refusal {
	return &refusal{refusalRateLimited, fmt.Sprintf("ClientJoinRateLimitReached: Too many joins per second (at most %d per socket)", max)}
}

func refuseTooManyChannels(max int) *refusal {
	return &refusal{refusalTooManyChannels, fmt.Sprintf("ChannelRateLimitReached: Too many channels (at most %d per socket)", max)}
}

// refuseToken: err reads as the original's reason after its prefix
// (gateway/token's errors and authz.NewSubject's are written so).
func refuseToken(err error) *refusal {
	return &refusal{refusalInvalidToken, "InvalidJWTToken: " + err.Error()}
}

func refuseInitializing() *refusal {
	return &refusal{refusalInitializing, "InitializingProjectConnection: Connecting to the project database"}
}

func refuseNoTopicName() *refusal {
	return &refusal{refusalBadTopic, "TopicNameRequired: You must provide a topic name"}
}

// refuseTopic refuses a 1.x topic that filters.ParseTopic rejected.
func refuseTopic(err error) *refusal { return &refusal{refusalBadTopic, err.Error()} }

// refuseJoinConfig refuses a config that does not decode.
func refuseJoinConfig(err error) *refusal {
	return &refusal{refusalBadConfig, fmt.Sprintf("invalid join config: %v", err)}
}

// refuseBinding refuses a malformed postgres_changes entry. A filter that
// does not parse is not one: it is reported after the join, as the
// original reports it.
func refuseBinding(err error) *refusal { return &refusal{refusalBadConfig, err.Error()} }

func refuseReplayOnPublic() *refusal {
	return &refusal{refusalBadConfig, "Replay is only available on private channels: join with config.private=true"}
}

// refuseUndeliverable refuses a table topic that could never deliver
// anything; why says what is missing and how to fix it (Server.checkTable).
func refuseUndeliverable(why string) *refusal { return &refusal{refusalUndeliverable, why} }

// refusePrivateRead is the original's refusal of a private channel whose
// RLS policies let its member read neither broadcast nor presence.
func refusePrivateRead(topic string) *refusal {
	return &refusal{refusalUnauthorized, "Unauthorized: You do not have permissions to read from this Channel topic: " + topic}
}

// refuseRole tells a role the gateway cannot act as (authz.RoleError)
// from a failure to learn what it may read.
func refuseRole(err error) *refusal {
	var re *authz.RoleError
	if errors.As(err, &re) {
		return &refusal{refusalRoleRefused, "Unauthorized: " + re.Error()}
	}
	return &refusal{refusalPrivilegesUnavailable, "UnableToCheckPrivileges: cannot read what this role may see (" + err.Error() + "); retry"}
}

func refuseCluster(err error) *refusal {
	return &refusal{refusalClusterUnavailable, "ClusterUnavailable: this gateway cannot reach its cluster right now (" + err.Error() + "); retry"}
}

// level is how loud a refusal of this code is logged. The gateway's own
// troubles warn. Floods (join rate, channel cap) log at debug, as a client
// in a join loop would otherwise write a line per join; the counter shows
// them.
func (c refusalCode) level() slog.Level {
	switch c {
	case refusalPrivilegesUnavailable, refusalClusterUnavailable:
		return slog.LevelWarn
	case refusalRateLimited, refusalTooManyChannels:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// refuseJoin answers a join with its refusal, counts it by code and logs
// it.
func (c *conn) refuseJoin(m phoenix.Message, r *refusal) {
	c.srv.joinRefusals[r.code].Add(1)
	c.log.Log(context.Background(), r.code.level(), "join refused", "topic", m.Topic, "code", r.code.String(), "reason", r.msg)
	c.send(phoenix.ErrorReply(m, r.msg))
}
