package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		rows, err := tx.Query(ctx, `SELECT id::text, coalesce(event, ''), payload::text, inserted_at
FROM realtime.messages
WHERE topic = $1 AND extension = 'broadcast' AND private IS TRUE AND payload IS NOT NULL
  AND inserted_at >= ($2::timestamptz AT TIME ZONE 'utc')
ORDER BY inserted_at DESC LIMIT $3`, topic, since, limit)
		if err != nil {
			return fmt.Errorf("read stored broadcasts: %w", err)
		}
		for rows.Next() {
			var s Stored
			var payload string
			if err := rows.Scan(&s.ID, &s.Event, &payload, &s.InsertedAt); err != nil {
				return err
			}
			s.Payload = json.RawMessage(payload)
			out = append(out, s)
		}
		return rows.Err()
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}
