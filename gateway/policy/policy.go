// Package policy is the gateway's access to realtime.messages on behalf of
// the users of private channels: what a user may do (read and write
// broadcast and presence on a topic, as decided by the Row Level Security
// policies on realtime.messages, the way Supabase Realtime asks), and the
// broadcasts stored for replay (history.go).
//
// Each question is one transaction that is always rolled back: probe rows
// are inserted into realtime.messages, the transaction takes the user's role
// and JWT claims (request.jwt.claims, and the legacy request.jwt.claim.sub
// and .role) and the topic (realtime.topic()), and the probes are read back
// or a row is inserted under RLS. Rolled-back rows never reach the
// replication stream. Claims and topic travel as parameters only; no client
// input becomes SQL text.
//
// A Checker is safe for concurrent use; it owns a small connection pool,
// made on first use and closed by Close.
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgrealtime/realtime/replication"
)

// Extensions of realtime.messages that policies grant.
const (
	Broadcast = "broadcast"
	Presence  = "presence"
	// Persistence is asked, as a write, before a broadcast is stored for
	// replay (Store): being allowed to broadcast on a topic does not let a
	// user fill the table.
	Persistence = "persistence"
)

// checkTimeout bounds one question: a policy that hangs refuses, it does
// not hold a join forever.
const checkTimeout = 5 * time.Second

// Claims is who asks: the verified JWT's claims.
type Claims struct {
	Role string
	Sub  string
	// JSON is the whole claims object, as request.jwt.claims holds it.
	JSON []byte
}

// ClaimsFrom builds Claims from a verified token's claims. role is
// required: without it there is no database role to check as.
func ClaimsFrom(claims map[string]any) (Claims, error) {
	role, _ := claims["role"].(string)
	if role == "" {
		return Claims{}, errors.New("the token has no role claim")
	}
	sub, _ := claims["sub"].(string)
	b, err := json.Marshal(claims)
	if err != nil {
		return Claims{}, fmt.Errorf("encode claims: %w", err)
	}
	return Claims{Role: role, Sub: sub, JSON: b}, nil
}

// Read is what a user may receive on a topic.
type Read struct{ Broadcast, Presence bool }

// Any reports whether the user may read anything, i.e. join.
func (r Read) Any() bool { return r.Broadcast || r.Presence }

// Checker asks the database. The zero value is not usable; use New.
type Checker struct {
	pool *replication.Pool
}

// New returns a checker for the database of connString. afterConnect, if
// not empty, runs on each new connection (DB_AFTER_CONNECT_QUERY).
func New(connString, afterConnect string) *Checker {
	return &Checker{pool: replication.NewPool(replication.PoolConfig{
		ConnString: connString, AppName: "realtime_authorization", AfterConnect: afterConnect})}
}

func (c *Checker) get(context.Context) (*pgxpool.Pool, error) { return c.pool.Get() }

// Close closes the pool; later checks fail (and so refuse).
func (c *Checker) Close() { c.pool.Close() }

// inTx runs fn in a transaction that is always rolled back.
func (c *Checker) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	pool, err := c.get(ctx)
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(tx)
}

// Become takes on the user's identity for the rest of the transaction.
func Become(ctx context.Context, tx pgx.Tx, topic string, cl Claims) error {
	_, err := tx.Exec(ctx, `SELECT set_config('role', $1, true),
       set_config('realtime.topic', $2, true),
       set_config('request.jwt.claims', $3, true),
       set_config('request.jwt.claim.sub', $4, true),
       set_config('request.jwt.claim.role', $1, true),
       set_config('request.headers', '{}', true)`, cl.Role, topic, string(cl.JSON), cl.Sub)
	if err != nil {
		return fmt.Errorf("take role %q: %w", cl.Role, err)
	}
	return nil
}

// CanRead asks which extensions the user may read on topic (the name
// without "realtime:"). An error means the question could not be answered
// (a policy that fails, an unknown role): callers refuse.
func (c *Checker) CanRead(ctx context.Context, topic string, cl Claims) (Read, error) {
	var r Read
	err := c.inTx(ctx, func(tx pgx.Tx) error {
		// Probes are written as the gateway's own role, before taking the
		// user's: the user may read without being allowed to write.
		var ids []string
		err := tx.QueryRow(ctx, `WITH p AS (
  INSERT INTO realtime.messages (topic, extension, inserted_at, updated_at)
  SELECT $1, e, timezone('utc', now()), timezone('utc', now()) FROM unnest($2::text[]) AS e
  RETURNING id, extension)
SELECT array_agg(id::text ORDER BY extension) FROM p`, topic, []string{Broadcast, Presence}).Scan(&ids)
		if err != nil {
			return fmt.Errorf("insert probe rows: %w", err)
		}
		if err := Become(ctx, tx, topic, cl); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT extension FROM realtime.messages WHERE id = ANY($1::uuid[])", ids)
		if err != nil {
			return fmt.Errorf("read probe rows: %w", err)
		}
		exts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("read probe rows: %w", err)
		}
		for _, e := range exts {
			switch e {
			case Broadcast:
				r.Broadcast = true
			case Presence:
				r.Presence = true
			}
		}
		return nil
	})
	return r, err
}

// CanWrite asks whether the user may write ext on topic: whether RLS lets
// it insert such a row into realtime.messages.
func (c *Checker) CanWrite(ctx context.Context, topic, ext string, cl Claims) (bool, error) {
	allowed := false
	err := c.inTx(ctx, func(tx pgx.Tx) error {
		if err := Become(ctx, tx, topic, cl); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO realtime.messages (topic, extension, inserted_at, updated_at)
VALUES ($1, $2, timezone('utc', now()), timezone('utc', now()))`, topic, ext)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			allowed = true
		case errors.As(err, &pgErr) && pgErr.Code == "42501":
			// insufficient_privilege: the policy said no.
		default:
			return fmt.Errorf("insert as %q: %w", cl.Role, err)
		}
		return nil
	})
	return allowed, err
}

func isUndefinedColumn(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42703"
}
