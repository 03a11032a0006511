package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Publication is the publication of realtime.messages that the replication
// stream reads besides the user's, named as Supabase's server names it.
const Publication = "supabase_realtime_messages_publication"

// historyTable records which of this package's migrations ran. It is not
// Supabase's realtime.schema_migrations, which stays untouched.
const historyTable = "realtime.gateway_migrations"

// lockKey serializes gateways that migrate the same database at once.
const lockKey = 0x7265616c74696d65 // "realtime"

// Sentinels for errors.Is; the errors themselves say what to do.
var (
	// ErrPrivilege means the database role may not create what is needed.
	ErrPrivilege = errors.New("insufficient privilege for the realtime schema")
	// ErrMissing means an object is missing and migrations are off.
	ErrMissing = errors.New("realtime schema object is missing")
)

// PrivilegeError names the privilege the role lacks.
type PrivilegeError struct {
	Role, Privilege, On string
	// Cause is PostgreSQL's own error, when it raised one.
	Cause error
}

func (e *PrivilegeError) Error() string {
	s := fmt.Sprintf("role %q lacks the %s privilege on %s, which creating the realtime schema needs: grant it (GRANT %s ON %s TO %s;), or set REALTIME_MIGRATIONS=false and create the objects yourself",
		e.Role, e.Privilege, e.On, e.Privilege, e.On, pgx.Identifier{e.Role}.Sanitize())
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

func (e *PrivilegeError) Unwrap() []error { return []error{ErrPrivilege, e.Cause} }

// MissingError lists the objects Check did not find.
type MissingError struct{ Objects []string }

func (e *MissingError) Error() string {
	return "REALTIME_MIGRATIONS=false and the database lacks " + strings.Join(e.Objects, ", ") +
		": create them (the SQL is in gateway/migrate/sql.go), or unset REALTIME_MIGRATIONS so the gateway creates them; private channels and broadcast from the database are off until then"
}

func (e *MissingError) Unwrap() error { return ErrMissing }

// connect opens an ordinary connection (never a replication one) to the
// database of connString.
func connect(ctx context.Context, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	delete(cfg.RuntimeParams, "replication")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return conn, nil
}

// Run applies the migrations the database has not had and makes the
// partitions of today and the next days, in one transaction. It returns the versions it
// applied. log may be nil.
func Run(ctx context.Context, connString string, log *slog.Logger) ([]int64, error) {
	if log == nil {
		log = slog.Default()
	}
	conn, err := connect(ctx, connString)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkPrivileges(ctx, conn); err != nil {
		return nil, err
	}
	return apply(ctx, conn, log)
}

func apply(ctx context.Context, conn *pgx.Conn, log *slog.Logger) ([]int64, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	if _, err := tx.Exec(ctx, when("to_regnamespace('realtime') IS NULL", "CREATE SCHEMA realtime")+`
CREATE TABLE IF NOT EXISTS `+historyTable+` (
  version bigint PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, explain(conn, fmt.Errorf("create %s: %w", historyTable, err))
	}
	rows, err := tx.Query(ctx, "SELECT version FROM "+historyTable)
	if err != nil {
		return nil, err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	have := map[int64]bool{}
	for _, v := range done {
		have[v] = true
	}
	var applied []int64
	for _, m := range migrations {
		if have[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return nil, explain(conn, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err))
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+historyTable+" (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return nil, err
		}
		applied = append(applied, m.version)
	}
	// Under the same lock as the janitor's rounds, so that gateways
	// starting together do not race to create today's partition.
	if _, err := ensurePartitions(ctx, tx, time.Now(), DefaultAhead); err != nil {
		return nil, explain(conn, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("applied realtime schema migrations", "versions", applied)
	}
	return applied, nil
}

// checkPrivileges asks before trying, so that the error names the
// privilege instead of whichever statement failed first.
func checkPrivileges(ctx context.Context, conn *pgx.Conn) error {
	var role, db string
	var schemaExists, createDB, createSchema bool
	err := conn.QueryRow(ctx, `
SELECT current_user, current_database(),
       to_regnamespace('realtime') IS NOT NULL,
       has_database_privilege(current_database(), 'CREATE'),
       to_regnamespace('realtime') IS NULL OR has_schema_privilege('realtime', 'CREATE')`).
		Scan(&role, &db, &schemaExists, &createDB, &createSchema)
	if err != nil {
		return fmt.Errorf("read privileges: %w", err)
	}
	switch {
	case !schemaExists && !createDB:
		return &PrivilegeError{Role: role, Privilege: "CREATE", On: "DATABASE " + pgx.Identifier{db}.Sanitize()}
	case schemaExists && !createSchema:
		return &PrivilegeError{Role: role, Privilege: "CREATE", On: "SCHEMA realtime"}
	}
	return nil
}

// explain turns PostgreSQL's "permission denied" into a PrivilegeError,
// and leaves other errors as they are.
func explain(conn *pgx.Conn, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		return err
	}
	// The role we logged in as: the transaction may be aborted, so no query.
	role := conn.Config().User
	priv, on := "the needed", "the realtime schema's objects"
	if strings.Contains(pgErr.Message, "must be owner") {
		priv = "ownership"
	}
	if strings.Contains(pgErr.Message, "publication") || strings.Contains(pgErr.Message, "database") {
		priv, on = "CREATE", "the DATABASE"
	}
	return &PrivilegeError{Role: role, Privilege: priv, On: on, Cause: err}
}

// Check reports what broadcast from the database needs and the database
// lacks, for users who run no migrations.
func Check(ctx context.Context, connString string) error {
	conn, err := connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return check(ctx, conn)
}

func check(ctx context.Context, conn *pgx.Conn) error {
	objects := []struct{ name, probe string }{
		{"table realtime.messages", "SELECT to_regclass('realtime.messages') IS NOT NULL"},
		{"function realtime.topic()", "SELECT to_regprocedure('realtime.topic()') IS NOT NULL"},
		{"function realtime.send(jsonb, text, text, boolean)", "SELECT to_regprocedure('realtime.send(jsonb,text,text,boolean)') IS NOT NULL"},
		{"publication " + Publication, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '" + Publication + "')"},
	}
	var missing []string
	for _, o := range objects {
		var ok bool
		if err := conn.QueryRow(ctx, o.probe).Scan(&ok); err != nil {
			return fmt.Errorf("look for %s: %w", o.name, err)
		}
		if !ok {
			missing = append(missing, o.name)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Objects: missing}
	}
	return nil
}
