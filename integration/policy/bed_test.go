// Package policy_test tests the rotation policies — how a rotation's
// restarts are ordered and bounded — against the local control plane and
// the real ESO, with a control plane of its own.
package policy_test

import (
	"testing"

	"github.com/eso-bridge/eso-bridge/integration/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
