package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults of Janitor, as Supabase's server keeps them.
const (
	// DefaultRetention is how long a day's messages are kept after the day
	// ends (72 h): replay cannot go further back.
	DefaultRetention = 72 * time.Hour
	// DefaultAhead is how many days after today get a partition in advance,
	// so inserts never find none even if the janitor is down for a while.
	DefaultAhead = 3
	// DefaultInterval is how often the janitor runs.
	DefaultInterval = time.Hour
)

// partitionName names the partition of one UTC day as Supabase's server
// does, so the two manage the same partitions.
func partitionName(day time.Time) string {
	return "messages_" + day.UTC().Format("2006_01_02")
}

var partitionPattern = regexp.MustCompile(`^messages_(\d{4}_\d{2}_\d{2})$`)

// partitionDay parses a partition name; ok is false for other tables.
func partitionDay(name string) (time.Time, bool) {
	m := partitionPattern.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	d, err := time.Parse("2006_01_02", m[1])
	return d, err == nil
}

// ensurePartitions creates the partitions of today and ahead days after it
// that are missing, and returns the names it created. A realtime.messages
// that is not partitioned (an old shape) is left alone.
func ensurePartitions(ctx context.Context, conn querier, now time.Time, ahead int) ([]string, error) {
	var partitioned bool
	err := conn.QueryRow(ctx, "SELECT coalesce((SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('realtime.messages')), false)").Scan(&partitioned)
	if err != nil || !partitioned {
		return nil, err
	}
	today := now.UTC().Truncate(24 * time.Hour)
	var created []string
	for i := 0; i <= ahead; i++ {
		day := today.AddDate(0, 0, i)
		name := partitionName(day)
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", "realtime."+name).Scan(&exists); err != nil {
			return created, err
		}
		if exists {
			continue
		}
		// Names and bounds come from time.Format, never from input.
		sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF realtime.messages FOR VALUES FROM ('%s') TO ('%s')",
			pgx.Identifier{"realtime", name}.Sanitize(), day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly))
		if _, err := conn.Exec(ctx, sql); err != nil {
			return created, fmt.Errorf("create partition %s: %w", name, err)
		}
		created = append(created, name)
	}
	return created, nil
}

// dropExpired drops the partitions of realtime.messages whose day ended
// more than retention before now, and returns their names.
func dropExpired(ctx context.Context, conn querier, now time.Time, retention time.Duration) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass('realtime.messages')`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, name := range names {
		day, ok := partitionDay(name)
		if !ok || !day.AddDate(0, 0, 1).Add(retention).Before(now) {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{"realtime", name}.Sanitize()); err != nil {
			return dropped, fmt.Errorf("drop partition %s: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	return dropped, nil
}

// querier is a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Janitor keeps realtime.messages' partitions: ahead of time, and not
// beyond the retention. Its Run is one goroutine whose owner cancels it.
type Janitor struct {
	ConnString string
	// Retention defaults to DefaultRetention, Ahead to DefaultAhead,
	// Interval to DefaultInterval, Logger to slog.Default().
	Retention time.Duration
	Ahead     int
	Interval  time.Duration
	Logger    *slog.Logger
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// Run tidies at once and then every Interval until ctx is done. A failed
// round is logged and retried at the next one: partitions are made days
// ahead, so one missed round loses nothing.
func (j Janitor) Run(ctx context.Context) {
	if j.Retention <= 0 {
		j.Retention = DefaultRetention
	}
	if j.Ahead <= 0 {
		j.Ahead = DefaultAhead
	}
	if j.Interval <= 0 {
		j.Interval = DefaultInterval
	}
	if j.Logger == nil {
		j.Logger = slog.Default()
	}
	if j.Now == nil {
		j.Now = time.Now
	}
	t := time.NewTicker(j.Interval)
	defer t.Stop()
	for {
		if err := j.Tidy(ctx); err != nil && ctx.Err() == nil {
			j.Logger.Warn("realtime.messages partitions not maintained; retrying later", "err", err, "retry_in", j.Interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tidy runs one round: create what is missing ahead, drop what expired.
func (j Janitor) Tidy(ctx context.Context) error {
	conn, err := connect(ctx, j.ConnString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	now := time.Now()
	if j.Now != nil {
		now = j.Now()
	}
	ahead, retention := j.Ahead, j.Retention
	if ahead <= 0 {
		ahead = DefaultAhead
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	// The gateways of a cluster all run a janitor; the lock makes their
	// rounds take turns instead of racing to create the same partition.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return fmt.Errorf("lock partitions: %w", err)
	}
	created, err := ensurePartitions(ctx, tx, now, ahead)
	if err != nil {
		return err
	}
	dropped, err := dropExpired(ctx, tx, now, retention)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if len(created)+len(dropped) > 0 && j.Logger != nil {
		j.Logger.Info("realtime.messages partitions maintained", "created", created, "dropped", dropped)
	}
	return nil
}
