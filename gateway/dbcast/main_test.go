package dbcast

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: every
// goroutine a test starts has an owner that must stop it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
