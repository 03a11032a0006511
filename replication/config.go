package replication

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Log keys, shared with the rest of the gateway's logs.
const (
	logSlot        = "slot"
	logLSN         = "lsn"
	logErr         = "err"
	logPublication = "publication"
)

// Defaults for the zero values of Config.
const (
	DefaultPublication    = "supabase_realtime"
	DefaultStatusInterval = 10 * time.Second
	DefaultBatchSize      = 512
)

// Config configures a Stream. The zero value of every field but ConnString
// means its documented default.
type Config struct {
	// ConnString is a libpq URL or DSN of the database. The stream adds
	// replication=database itself for its replication connection, and uses the
	// string as given for catalog and lag queries.
	ConnString string
	// Publications are the publications to stream. Default ["supabase_realtime"].
	Publications []string
	// SlotName names the replication slot. Empty means a temporary slot with
	// a generated name ("realtime_tmp_<random>", new on every connect); set
	// means a permanent slot of that name, lower-cased as the original does.
	SlotName string
	// TemporarySlot makes a named slot temporary anyway. A temporary slot
	// disappears with its connection, so whatever is committed while the
	// stream is disconnected is lost (the next Batch has Gap set).
	TemporarySlot bool
	// MaxLagMB (megabytes of 10^6 bytes, as the original) bounds the WAL a
	// permanent slot may retain. 0 turns the guard off. When a reused slot is
	// over the limit at connect, it is dropped and created anew, discarding the
	// changes it retained (logged as an error, next Batch has Gap set). While
	// connected, going over the limit is only logged: the consumer is behind,
	// and dropping would lose data the stream can still deliver.
	MaxLagMB int
	// RecreateStuckSlot lets the stream drop and recreate a permanent slot
	// that fails the same way every time it streams, without delivering
	// anything (see Status.Stalled): PostgreSQL 15 cannot decode past a
	// publication that was dropped and re-created while the slot was behind
	// it. Recreating skips what was committed since; the next Batch carries
	// Gap and a Notice saying so. Off by default: skipping is the user's call.
	RecreateStuckSlot bool
	// StatusInterval is the period of standby status updates (and of lag
	// checks). Default 10s; keep it well under the server's wal_sender_timeout.
	StatusInterval time.Duration
	// BatchSize is the largest number of changes in one Batch. Default 512.
	BatchSize int
	// Logger receives the stream's logs. Default slog.Default().
	Logger *slog.Logger
	// AfterConnect is SQL run on each ordinary connection (catalog and lag
	// queries) after it opens, such as "SET search_path TO _realtime";
	// never on the replication connection. Empty runs nothing.
	AfterConnect string
}

// ConfigError is an invalid Config field.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return "replication config " + e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// withDefaults validates c and returns it with defaults filled in. It
// reports every invalid field at once.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.ConnString == "" {
		errs = append(errs, &ConfigError{"ConnString", errors.New("is empty")})
	} else if _, err := pgconn.ParseConfig(c.ConnString); err != nil {
		errs = append(errs, &ConfigError{"ConnString", err})
	}
	if len(c.Publications) == 0 {
		c.Publications = []string{DefaultPublication}
	}
	c.Publications = append([]string(nil), c.Publications...)
	for _, p := range c.Publications {
		if p == "" || strings.ContainsRune(p, 0) {
			errs = append(errs, &ConfigError{"Publications", fmt.Errorf("invalid publication name %q", p)})
		}
	}
	c.SlotName = strings.ToLower(c.SlotName)
	if c.SlotName == "" {
		c.TemporarySlot = true
	} else if err := checkSlotName(c.SlotName); err != nil {
		errs = append(errs, &ConfigError{"SlotName", err})
	}
	if c.MaxLagMB < 0 {
		errs = append(errs, &ConfigError{"MaxLagMB", errors.New("is negative")})
	}
	switch {
	case c.StatusInterval == 0:
		c.StatusInterval = DefaultStatusInterval
	case c.StatusInterval < 0:
		errs = append(errs, &ConfigError{"StatusInterval", errors.New("is negative")})
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = DefaultBatchSize
	case c.BatchSize < 0:
		errs = append(errs, &ConfigError{"BatchSize", errors.New("is negative")})
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, errors.Join(errs...)
}

// checkSlotName applies PostgreSQL's rule for slot names, which replication
// commands take unquoted.
func checkSlotName(name string) error {
	if len(name) > 63 {
		return fmt.Errorf("slot name %q is longer than 63 characters", name)
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return fmt.Errorf("slot name %q may contain only lower-case letters, digits and underscores", name)
		}
	}
	return nil
}
