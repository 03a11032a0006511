package replication

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Sentinels for setup problems a person has to fix; errors.Is finds them in
// the errors of Check and in Status.LastError's source. Their messages say
// how to fix the problem.
var (
	ErrWALLevel        = errors.New("wal_level is not logical")
	ErrNoPublication   = errors.New("publication does not exist")
	ErrNoReplication   = errors.New("role lacks the REPLICATION attribute")
	ErrSlotActive      = errors.New("replication slot is active in another connection")
	ErrSlotUnsuitable  = errors.New("replication slot cannot be used")
	errAlreadyRunning  = errors.New("run stream: Run was already called")
	errServerEndedCopy = errors.New("server ended the replication stream")
)

// setupError carries a sentinel for errors.Is and a message that says how to
// fix the problem.
type setupError struct {
	kind error
	msg  string
}

func (e *setupError) Error() string { return e.msg }
func (e *setupError) Unwrap() error { return e.kind }

func setupErrorf(kind error, format string, args ...any) error {
	return &setupError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// querier is what the checks need from a connection or a pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Check connects to the database and verifies what logical replication
// needs: wal_level=logical, a role that may replicate, and every publication.
// Its errors say how to fix each problem; problems other than wal_level are
// reported together. An empty publications list means ["supabase_realtime"].
func Check(ctx context.Context, connString string, publications []string) error {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return fmt.Errorf("parse connection string: %w", err)
	}
	delete(cfg.RuntimeParams, "replication")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if len(publications) == 0 {
		publications = []string{DefaultPublication}
	}
	return check(ctx, conn, publications)
}

func check(ctx context.Context, q querier, publications []string) error {
	var level string
	if err := q.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("read wal_level: %w", err)
	}
	if level != "logical" {
		return setupErrorf(ErrWALLevel,
			"wal_level is %q; logical replication needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL", level)
	}
	var errs []error
	var role string
	var canReplicate bool
	err := q.QueryRow(ctx, "SELECT current_user, rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&role, &canReplicate)
	if err != nil {
		return fmt.Errorf("read role attributes: %w", err)
	}
	if !canReplicate {
		errs = append(errs, setupErrorf(ErrNoReplication,
			"role %q may not open a replication connection: run ALTER ROLE %s WITH REPLICATION; as a superuser", role, quoteIdent(role)))
	}
	rows, err := q.Query(ctx, "SELECT pubname FROM pg_publication WHERE pubname = ANY($1)", publications)
	if err != nil {
		return fmt.Errorf("read publications: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read publications: %w", err)
	}
	for _, p := range publications {
		if !contains(found, p) {
			errs = append(errs, setupErrorf(ErrNoPublication,
				"publication %q does not exist: run CREATE PUBLICATION %s FOR ALL TABLES;", p, quoteIdent(p)))
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// quoteIdent quotes a name for SQL shown in hints, only when it needs it, so
// the common case reads as people type it.
func quoteIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// publicationNames renders the publication_names option of pgoutput: a
// string literal holding a comma-separated list of identifiers. Every name is
// double-quoted so it is taken exactly, as the publication check compares it.
func publicationNames(pubs []string) string {
	quoted := make([]string, len(pubs))
	for i, p := range pubs {
		quoted[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return "'" + strings.ReplaceAll(strings.Join(quoted, ","), "'", "''") + "'"
}
