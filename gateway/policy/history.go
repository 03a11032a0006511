package policy

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxReplay caps how many stored messages one join replays, as Supabase's
// server caps it: a larger limit is lowered to it, not refused.
const MaxReplay = 25

// Stored is one broadcast kept in realtime.messages.
type Stored struct {
	ID         string
	Event      string
	Payload    json.RawMessage // nil for a binary payload
	Binary     []byte
	InsertedAt time.Time
}

// ErrNoSkipColumn means realtime.messages lacks skip_broadcast, without
// which a stored broadcast would be delivered twice.
var ErrNoSkipColumn = errors.New("realtime.messages has no skip_broadcast column (run the gateway's migrations): cannot store broadcasts")

// StoreRefusal says why a broadcast was neither stored nor sent when the
// write check of Persistence refused: the sender asked for it to be kept,
// so sending it unkept would be a silent half-success. The socket's reply
// and the HTTP API's 403 both carry it.
func StoreRefusal(topic string) string {
	return "Unauthorized: You do not have permissions to store messages on this Channel topic: " + topic +
		" (storing needs an INSERT policy on realtime.messages for extension 'persistence'); the message was not sent"
}

// Store keeps a broadcast the gateway delivers itself on the private topic,
// for replay, and returns its id. The row is marked skip_broadcast so the
// replication stream does not deliver it again. The caller has run the
// write check.
func (c *Checker) Store(ctx context.Context, topic, event string, payload json.RawMessage, binary []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	pool, err := c.get(ctx)
	if err != nil {
		return "", err
	}
	// binary_payload is named only when used: an older schema lacks it.
	var id string
	if binary != nil {
		err = pool.QueryRow(ctx, `INSERT INTO realtime.messages (topic, extension, event, binary_payload, private, skip_broadcast)
VALUES ($1, 'broadcast', $2, $3, true, true) RETURNING id::text`, topic, event, binary).Scan(&id)
	} else {
		err = pool.QueryRow(ctx, `INSERT INTO realtime.messages (topic, extension, event, payload, private, skip_broadcast)
VALUES ($1, 'broadcast', $2, $3::text::jsonb, true, true) RETURNING id::text`, topic, event, string(payload)).Scan(&id)
	}
	if err != nil {
		if isUndefinedColumn(err) {
			return "", ErrNoSkipColumn
		}
		return "", fmt.Errorf("store broadcast: %w", err)
	}
	return id, nil
}

// Replay returns the broadcasts stored on the private topic since since,
// oldest first: the newest limit of them (capped at MaxReplay), read
// under the user's role and claims, so RLS decides which rows they see.
func (c *Checker) Replay(ctx context.Context, topic string, since time.Time, limit int, cl Claims) ([]Stored, error) {
	if limit <= 0 || limit > MaxReplay {
		limit = MaxReplay
	}
	var out []Stored
	err := c.inTx(ctx, func(tx pgx.Tx) error {
		if err := Become(ctx, tx, topic, cl); err != nil {
			return err
		}
		// binary_payload is read through to_jsonb so that a schema
		// without the column (migrations off, an older server's) still
		// replays its JSON messages. Rows inserted only for a policy
		// check have neither payload.
		rows, err := tx.Query(ctx, `SELECT m.id::text, coalesce(m.event, ''), m.payload::text, to_jsonb(m)->>'binary_payload', m.inserted_at
FROM realtime.messages m
WHERE m.topic = $1 AND m.extension = 'broadcast' AND m.private IS TRUE
  AND m.inserted_at >= ($2::timestamptz AT TIME ZONE 'utc')
  AND m.inserted_at < timezone('utc', now()) + interval '1 minute'
  AND (m.payload IS NOT NULL OR to_jsonb(m)->>'binary_payload' IS NOT NULL)
ORDER BY m.inserted_at DESC LIMIT $3`, topic, since, limit)
		if err != nil {
			return fmt.Errorf("read stored broadcasts: %w", err)
		}
		for rows.Next() {
			var s Stored
			var payload, binary *string
			if err := rows.Scan(&s.ID, &s.Event, &payload, &binary, &s.InsertedAt); err != nil {
				return err
			}
			if payload != nil {
				s.Payload = json.RawMessage(*payload)
			} else if s.Binary, err = hex.DecodeString(strings.TrimPrefix(*binary, `\x`)); err != nil {
				return fmt.Errorf("stored message %s: binary_payload: %w", s.ID, err)
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}
