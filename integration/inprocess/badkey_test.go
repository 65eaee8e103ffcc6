package inprocess_test

import (
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// One key eso-bridge may not read (a secret of another account without a
// resource policy, or one IAM leaves out) and one that does not exist sit
// beside a good key on the same store, sorted before it: the good key's
// rotation still restarts its consumer, and the two bad keys are asked about
// less and less often, not on every sweep. The refused one is reported on its
// ExternalSecret.
func TestABadKeyDoesNotStopItsStore(t *testing.T) {
	s, _, api := consumerOfOneSecret(t)
	for _, name := range []string{"a-denied", "a-missing"} {
		// ESO fails on them too; nothing uses their Secrets.
		if err := s.Client.Create(s.Ctx, controlplane.ExternalSecret(s.NS, name, s.RemoteKey(name), "value", time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	s.CP.LocalSecretsManager.Deny(s.RemoteKey("a-denied"))
	t.Cleanup(s.CP.LocalSecretsManager.ClearFaults)
	letPollerLook()

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	if got := secretValue(s, "db"); got != "v2" {
		t.Errorf("the Secret holds %q, want v2", got)
	}
	// The owner of the ExternalSecret whose key is refused learns why it is
	// not sped up; a key that merely does not exist is ESO's to report.
	s.WaitEventSaying(events.ReasonVaultUnreadable, "a-denied", "AccessDenied")

	// Quiet now: only the two bad keys are described. Every sweep (1s) would
	// be about 24 calls in 12s; backing off, each key is asked about a few
	// times (1s, 2s, 4s, 8s apart).
	described := func() float64 {
		return harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "DescribeSecret"})
	}
	before := described()
	time.Sleep(12 * time.Second)
	if got := described() - before; got > 10 {
		t.Errorf("%v DescribeSecret calls in 12s for two bad keys, want them backed off (at most 10)", got)
	}
}
