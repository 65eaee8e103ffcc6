package inprocess_test

import (
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

// An ExternalSecret made after another that read the same AWS secret was
// deleted is new to eso-bridge: the rotation the first one was triggered for
// happened before the second existed, ESO fetched its version when it
// synced the new ExternalSecret, and eso-bridge writes no trigger on it —
// one would make ESO fetch again what it has just fetched.
func TestAnExternalSecretReadingWhatADeletedOneReadIsNew(t *testing.T) {
	s, es, _ := consumerOfOneSecret(t)
	version, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitFor("eso-bridge to trigger the rotation", func() (bool, string) {
		got := annotation(s, es, annotations.AnnotationVaultVersions)
		return strings.Contains(got, version), "its versions annotation is " + got
	})
	if err := s.Client.Delete(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	letPollerLook() // eso-bridge sees the deletion; the poller sweeps

	again := controlplane.ExternalSecret(s.NS, "db-again", s.RemoteKey("db"), "value", time.Hour)
	if err := s.Client.Create(s.Ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(again)); err != nil {
		t.Fatal(err)
	}
	if got := s.SecretData("db-again", "value"); got != "v2" {
		t.Fatalf("ESO wrote %q into the new ExternalSecret's Secret, want v2: the test's premise is gone", got)
	}
	letPollerLook()
	letPollerLook()
	if got := annotation(s, again, annotations.AnnotationVaultVersions); got != "" {
		t.Errorf("eso-bridge triggered the new ExternalSecret for a rotation made before it existed (%s)", got)
	}
}
