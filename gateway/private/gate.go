package private

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/policy"
)

// Policy answers the authorization questions; *policy.Checker implements it.
type Policy interface {
	CanRead(ctx context.Context, topic string, cl policy.Claims) (policy.Read, error)
	CanWrite(ctx context.Context, topic, ext string, cl policy.Claims) (bool, error)
	// Store and Replay keep and read back broadcasts (persist, replay).
	Store(ctx context.Context, topic, event string, payload json.RawMessage, binary []byte) (string, error)
	Replay(ctx context.Context, topic string, since time.Time, limit int, cl policy.Claims) ([]policy.Stored, error)
}

// storeWait bounds storing a broadcast and the replay query, which runs
// under the hub's write lock (routing waits meanwhile, so nothing falls
// between the stored and the live messages).
const storeWait = 2 * time.Second

// Gate asks a Policy on a channel's behalf. Every failure is a refusal,
// logged with its cause.
type Gate struct {
	// Policy is nil when the realtime schema is not in place: then every
	// check refuses and nothing is stored or replayed.
	Policy Policy
	Log    *slog.Logger
	// Wait bounds one read or write check.
	Wait time.Duration
}

// ClaimsOf is who the policies on realtime.messages are asked about: the
// same role and settings the postgres_changes checks use.
func ClaimsOf(subj *authz.Subject) policy.Claims {
	return policy.Claims{Role: subj.Role, Sub: subj.Sub, JSON: []byte(subj.Claims)}
}

// Read asks what subj may read on topic (without "realtime:"); ok is
// false when it may read nothing.
func (g Gate) Read(topic string, subj *authz.Subject) (r policy.Read, ok bool) {
	if g.Policy == nil {
		g.Log.Warn("private channel refused: the realtime schema is not in place (see the schema errors at start)", "topic", topic)
		return policy.Read{}, false
	}
	if subj == nil {
		return policy.Read{}, false
	}
	cl := ClaimsOf(subj)
	ctx, cancel := context.WithTimeout(context.Background(), g.Wait)
	defer cancel()
	r, err := g.Policy.CanRead(ctx, topic, cl)
	if err != nil {
		g.Log.Warn("private channel refused: its read check failed", "topic", topic, "role", cl.Role, "err", err)
		return policy.Read{}, false
	}
	return r, r.Any()
}

// Write asks whether subj may write ext on topic.
func (g Gate) Write(topic string, ext Extension, subj *authz.Subject) bool {
	if g.Policy == nil || subj == nil {
		return false
	}
	cl := ClaimsOf(subj)
	ctx, cancel := context.WithTimeout(context.Background(), g.Wait)
	defer cancel()
	ok, err := g.Policy.CanWrite(ctx, topic, string(ext), cl)
	if err != nil {
		g.Log.Warn("write check failed; refused", "topic", topic, "extension", ext, "role", cl.Role, "err", err)
		return false
	}
	return ok
}

// Store keeps a broadcast of a private channel (topic with its "realtime:"
// prefix) before it is delivered, and returns its id for meta.id. The
// write check of Persistence has passed.
func (g Gate) Store(private bool, topic, event string, payload json.RawMessage, binary []byte) (string, error) {
	if !private {
		return "", fmt.Errorf("cannot store a message on a public channel")
	}
	if g.Policy == nil {
		return "", fmt.Errorf("cannot store messages: the realtime schema is not in place")
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeWait)
	defer cancel()
	return g.Policy.Store(ctx, strings.TrimPrefix(topic, filters.TopicPrefix), event, payload, binary)
}

// Replay reads the stored broadcasts of topic (without "realtime:") a
// join's replay option asks for, as subj; with SECURE_CHANNELS off
// (!secured) as the service role, since there is no user.
func (g Gate) Replay(r *ReplayOption, topic string, secured bool, subj *authz.Subject) ([]policy.Stored, error) {
	since, limit, err := r.Parse()
	if err != nil {
		return nil, err
	}
	if g.Policy == nil {
		return nil, fmt.Errorf("the realtime schema is not in place")
	}
	var cl policy.Claims
	switch {
	case !secured:
		if cl, err = policy.ClaimsFrom(map[string]any{"role": "service_role"}); err != nil {
			return nil, err
		}
	case subj == nil:
		return nil, errors.New("the channel has no token to read the replay as")
	default:
		cl = ClaimsOf(subj)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeWait)
	defer cancel()
	return g.Policy.Replay(ctx, topic, since, limit, cl)
}
