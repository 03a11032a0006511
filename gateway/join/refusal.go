package join

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/pgrealtime/realtime/gateway/authz"
)

// code says why a phx_join was refused. Every refusal has one; it is
// counted (realtime_join_refusals_total{code}), so "why can my client not
// join" has an answer on a dashboard and not only in a client's console.
type code uint8

const (
	codeBadPayload            code = iota // the join payload is not a JSON object
	codeRateLimited                       // more joins per second than MAX_JOINS_PER_SECOND
	codeTooManyChannels                   // MAX_CHANNELS_PER_CLIENT reached
	codeInvalidToken                      // the channel's JWT is invalid, expired or lacks role/exp
	codeInitializing                      // the first replication slot does not exist yet
	codeBadTopic                          // the topic names nothing a join can subscribe to
	codeBadConfig                         // config (or a postgres_changes entry) is malformed
	codeUndeliverable                     // a table topic whose table, column or publication is missing
	codeUnauthorized                      // a private channel's read check refused
	codeRoleRefused                       // the gateway cannot act as the token's role
	codePrivilegesUnavailable             // what the role may read could not be learnt
	codeClusterUnavailable                // the cluster could not be told of the join
	numCodes
)

// codeNames are the codes' metric labels and log values.
var codeNames = [numCodes]string{
	codeBadPayload:            "bad_payload",
	codeRateLimited:           "rate_limited",
	codeTooManyChannels:       "too_many_channels",
	codeInvalidToken:          "invalid_token",
	codeInitializing:          "initializing",
	codeBadTopic:              "bad_topic",
	codeBadConfig:             "bad_config",
	codeUndeliverable:         "undeliverable",
	codeUnauthorized:          "unauthorized",
	codeRoleRefused:           "role_refused",
	codePrivilegesUnavailable: "privileges_unavailable",
	codeClusterUnavailable:    "cluster_unavailable",
}

func (c code) String() string { return codeNames[c] }

// level is how loud a refusal of this code is logged. The gateway's own
// troubles warn. Floods (join rate, channel cap) log at debug, as a client
// in a join loop would otherwise write a line per join; the counter shows
// them.
func (c code) level() slog.Level {
	switch c {
	case codePrivilegesUnavailable, codeClusterUnavailable:
		return slog.LevelWarn
	case codeRateLimited, codeTooManyChannels:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// Refusal is a refused join: its code, for the metric and the log, and
// the reason the client reads in {"status":"error","response":{"reason":…}}.
// Where the original server refuses for the same cause, the reason is its
// text byte for byte (realtime-js shows it, and some apps match on its
// leading code word, "ChannelRateLimitReached" and the like).
//
// Each cause builds its Refusal in exactly one function below, so this file
// is the list of every reason a join can get; the fields are unexported so
// that no caller makes one without a code.
type Refusal struct {
	code   code
	reason string
}

// Reason is the text the client is sent, and the reason a channel closed
// for a refused token refresh gives.
func (r *Refusal) Reason() string { return r.reason }

// BadPayload refuses a join payload that is not a JSON object.
func BadPayload() *Refusal {
	return &Refusal{codeBadPayload, "join payload must be a JSON object"}
}

// RateLimited refuses a join past max per second on one socket.
func RateLimited(max int) *Refusal {
	return &Refusal{codeRateLimited, fmt.Sprintf("ClientJoinRateLimitReached: Too many joins per second (at most %d per socket)", max)}
}

// TooManyChannels refuses a new channel on a socket that has max.
func TooManyChannels(max int) *Refusal {
	return &Refusal{codeTooManyChannels, fmt.Sprintf("ChannelRateLimitReached: Too many channels (at most %d per socket)", max)}
}

// InvalidToken refuses a channel's token; err reads as the original's
// reason after its prefix (gateway/token's errors and authz.NewSubject's
// are written so).
func InvalidToken(err error) *Refusal {
	return &Refusal{codeInvalidToken, "InvalidJWTToken: " + err.Error()}
}

// Initializing refuses a join made while the first replication slot does
// not exist yet.
func Initializing() *Refusal {
	return &Refusal{codeInitializing, "InitializingProjectConnection: Connecting to the project database"}
}

// NoTopicName refuses a config join whose topic is "realtime:" alone.
func NoTopicName() *Refusal {
	return &Refusal{codeBadTopic, "TopicNameRequired: You must provide a topic name"}
}

// BadTopic refuses a 1.x topic that filters.ParseTopic rejected.
func BadTopic(err error) *Refusal { return &Refusal{codeBadTopic, err.Error()} }

// BadConfig refuses a config that does not decode.
func BadConfig(err error) *Refusal {
	return &Refusal{codeBadConfig, fmt.Sprintf("invalid join config: %v", err)}
}

// BadBinding refuses a malformed postgres_changes entry. A filter that
// does not parse is not one: it is reported after the join, as the
// original reports it.
func BadBinding(err error) *Refusal { return &Refusal{codeBadConfig, err.Error()} }

// ReplayOnPublic refuses a replay asked of a public channel.
func ReplayOnPublic() *Refusal {
	return &Refusal{codeBadConfig, "Replay is only available on private channels: join with config.private=true"}
}

// Undeliverable refuses a table topic that could never deliver anything;
// why says what is missing and how to fix it (Checker.Topic).
func Undeliverable(why string) *Refusal { return &Refusal{codeUndeliverable, why} }

// PrivateRead is the original's refusal of a private channel whose RLS
// policies let its member read neither broadcast nor presence.
func PrivateRead(topic string) *Refusal {
	return &Refusal{codeUnauthorized, "Unauthorized: You do not have permissions to read from this Channel topic: " + topic}
}

// Role tells a role the gateway cannot act as (authz.RoleError) from a
// failure to learn what it may read.
func Role(err error) *Refusal {
	var re *authz.RoleError
	if errors.As(err, &re) {
		return &Refusal{codeRoleRefused, "Unauthorized: " + re.Error()}
	}
	return &Refusal{codePrivilegesUnavailable, "UnableToCheckPrivileges: cannot read what this role may see (" + err.Error() + "); retry"}
}

// ClusterUnavailable refuses a join the cluster could not be told of.
func ClusterUnavailable(err error) *Refusal {
	return &Refusal{codeClusterUnavailable, "ClusterUnavailable: this gateway cannot reach its cluster right now (" + err.Error() + "); retry"}
}
