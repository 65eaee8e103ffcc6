package inprocess_test

import (
	"testing"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// A blue/green switch: an ExternalSecret reads the label "blue" of a secret.
// A rotation of AWSCURRENT is not its rotation; moving "blue" to a new
// version is, and restarts its consumer once, with the blue value.
func TestAPinnedLabelRotatesWhenTheLabelMoves(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecretAtLabel("switch", "blue", "blue-1", rolloutAuto)
	key := s.RemoteKey("switch")
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "switch")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, key, "current-2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(s, es, annotations.AnnotationTraceparent); got != "" {
		t.Errorf("a move of AWSCURRENT triggered a reader of blue (traceparent %s)", got)
	}
	version, err := s.CP.SecretsManager.PutLabelled(s.Ctx, key, "blue-2", "blue")
	if err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	if got := secretValue(s, "switch"); got != "blue-2" {
		t.Errorf("the Secret holds %q, want blue-2", got)
	}
	if got := annotation(s, es, annotations.AnnotationVaultVersions); got != key+"#blue="+version {
		t.Errorf("%s = %q, want %s#blue=%s", annotations.AnnotationVaultVersions, got, key, version)
	}
	s.ExpectNoMoreRestartsThan(api, 1)
}
