package replication

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrConnect is a failure to connect to the database whose message names
// the setting to check (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME).
// The stream keeps retrying: the database may be starting.
var ErrConnect = errors.New("cannot connect to the database")

// explainConnect rewrites a failure to connect into one line that names the
// setting to check, keeping the original error reachable with errors.As.
// pgconn reports every attempt (each address of the host, and with
// sslmode=prefer a TLS and a plain one), which buries the cause in repeats;
// the first attempt's cause is enough. Other errors pass through unchanged.
func explainConnect(err error) error {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) || ce.Config == nil {
		return err
	}
	where := net.JoinHostPort(ce.Config.Host, strconv.Itoa(int(ce.Config.Port)))
	var pgErr *pgconn.PgError
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "28P01": // invalid_password
		return &causeError{kind: ErrConnect, cause: err, msg: fmt.Sprintf(
			"PostgreSQL at %s refused user %q: %s: check DB_USER and DB_PASSWORD", where, ce.Config.User, pgErr.Message)}
	case errors.As(err, &pgErr) && pgErr.Code == "3D000": // invalid_catalog_name
		return &causeError{kind: ErrConnect, cause: err, msg: fmt.Sprintf(
			"PostgreSQL at %s: %s: check DB_NAME", where, pgErr.Message)}
	case errors.As(err, &pgErr) && pgErr.Code == "28000": // no pg_hba.conf entry, or the like
		return &causeError{kind: ErrConnect, cause: err, msg: fmt.Sprintf(
			"PostgreSQL at %s refused the connection: %s: check DB_USER, DB_NAME and pg_hba.conf", where, pgErr.Message)}
	case errors.As(err, &dnsErr):
		return &causeError{kind: ErrConnect, cause: err, msg: fmt.Sprintf(
			"cannot resolve the database host %q (%v): check DB_HOST", ce.Config.Host, dnsErr)}
	case errors.As(err, &opErr):
		return &causeError{kind: ErrConnect, cause: err, msg: fmt.Sprintf(
			"cannot reach PostgreSQL at %s (%v): check DB_HOST and DB_PORT, and that PostgreSQL is running and accepts TCP connections there", where, opErr.Err)}
	}
	return err
}
