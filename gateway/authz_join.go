package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/pgrealtime/realtime/gateway/authz"
)

// initAuthz gives the hub an authorizer when channels are secure. Without a
// replication stream (unit tests of the sockets) there is no database to
// ask, and changes are only those the tests route by hand.
func (s *Server) initAuthz() error {
	if !s.cfg.SecureChannels || s.repl == nil {
		return nil
	}
	a, err := authz.New(authz.Config{
		ConnString:   s.cfg.ConnString(),
		Publications: s.cfg.Publications,
		Logger:       s.log.With("component", "authz"),
	})
	if err != nil {
		return err
	}
	s.hub.authz = a
	return nil
}

// roleWait bounds how long a join waits to learn what its role may read.
const roleWait = 5 * time.Second

// acquireRole makes the authorizer follow the role of a channel that
// receives database changes, and checks that the gateway may act as it.
// It returns why the join must be refused.
func (c *conn) acquireRole(ch *channel) string {
	a := c.srv.hub.authz
	if a == nil || ch.subj == nil || ch.v1 == nil && len(ch.subs) == 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), roleWait)
	defer cancel()
	if err := a.Acquire(ctx, ch.subj.Role); err != nil {
		return roleRefusal(err)
	}
	ch.role = ch.subj.Role
	return ""
}

func roleRefusal(err error) string {
	var re *authz.RoleError
	if errors.As(err, &re) {
		return "Unauthorized: " + re.Error()
	}
	return "UnableToCheckPrivileges: cannot read what this role may see (" + err.Error() + "); retry"
}
