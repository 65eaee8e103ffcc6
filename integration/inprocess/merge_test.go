package inprocess_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// Two ExternalSecrets merge their keys into one Secret, one of them named
// as the Secret: a rotation of either restarts the consumer once, promptly
// — the other writer, whose status predates the latest write though it has
// nothing to sync, does not hold it until its own refresh an hour later.
// The ExternalSecrets are applied as `kubectl apply` applies them.
func TestARotationOfEitherOfTwoWritersOfOneSecretRestartsOnce(t *testing.T) {
	s := harness.NewScenario(t)
	// The Secret both merge into exists first, as a Helm chart would make it.
	shared := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: "db"}, StringData: map[string]string{"host": "db.internal"}}
	if err := s.Client.Create(s.Ctx, shared); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db-user", "db-password"} {
		if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, s.RemoteKey(name), name+"-1"); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitPastTheSecond()
	// One writer is named as the Secret, as ESO's default names it; the
	// other is not: eso-bridge finds the first by its name, the second by
	// its index.
	writer := map[string]string{"db-user": "db", "db-password": "db-password"}
	for _, name := range []string{"db-user", "db-password"} {
		es := controlplane.ExternalSecret(s.NS, writer[name], s.RemoteKey(name), name, time.Hour)
		es.Spec.Target = esv1.ExternalSecretTarget{Name: "db", CreationPolicy: esv1.CreatePolicyMerge}
		es.Annotations = maps.Clone(rolloutAuto)
		// Applied as `kubectl apply` (or a GitOps tool) applies it: with
		// the last-applied copy of the manifest, which ESO's
		// syncedResourceVersion digests with the other annotations.
		manifest, err := json.Marshal(es)
		if err != nil {
			t.Fatal(err)
		}
		es.Annotations[corev1.LastAppliedConfigAnnotation] = string(manifest)
		if err := s.Client.Create(s.Ctx, es); err != nil {
			t.Fatal(err)
		}
		if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
			t.Fatal(err)
		}
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	opts := harness.TestOptions()
	// Past this, a held restart is given up: the test would see no restart.
	opts.MaxGateWait = 2 * time.Minute
	s.StartBridgeWith(opts, withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	for i, name := range []string{"db-password", "db-user"} {
		if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey(name), name+"-2"); err != nil {
			t.Fatal(err)
		}
		s.WaitFor("ESO to merge the new "+name, func() (bool, string) {
			got := s.SecretData("db", name)
			return got == name+"-2", "the Secret holds " + got
		})
		s.ExpectRestarts(api, int64(i+1))
	}
	if got := s.SecretData("db", "host"); got != "db.internal" {
		t.Errorf("the Secret's own key host is %q, want it kept by both merges", got)
	}
}
