// Package inprocess_test runs the real ESO against the in-process Secrets
// Manager endpoint (integration/localsm), which the demo, the benchmarks and
// the fault tests use in place of moto.
package inprocess_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

func TestMain(m *testing.M) {
	harness.MainWith(m, controlplane.Options{SecretsManager: controlplane.InProcess})
}

// The real ESO reads the in-process endpoint as it reads AWS: a plain new
// value reaches the Secret; a rotation Lambda's pending version does not,
// until it is promoted.
func TestESOFollowsStagingLabelsOfTheInProcessEndpoint(t *testing.T) {
	cp := harness.ControlPlane(t)
	ctx := harness.Context(t)
	ns := harness.Namespace(t)
	harness.SecretStore(t, ns)
	sm := cp.SecretsManager
	remote := ns + "/db"
	if _, err := sm.CreateSecret(ctx, remote, "one"); err != nil {
		t.Fatal(err)
	}
	es := controlplane.ExternalSecret(ns, "db", remote, "value", time.Hour)
	if err := cp.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(es)
	refresh := func(round string) {
		t.Helper()
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"test.eso-bridge.io/refresh":"`+round+`"}}}`))
		if err := cp.Client.Patch(ctx, es, patch); err != nil {
			t.Fatal(err)
		}
		if _, err := controlplane.WaitForSync(ctx, cp.Client, key); err != nil {
			t.Fatal(err)
		}
	}
	expectValue := func(want string) {
		t.Helper()
		var secret corev1.Secret
		if err := cp.Client.Get(ctx, key, &secret); err != nil {
			t.Fatal(err)
		}
		if got := string(secret.Data["value"]); got != want {
			t.Errorf("the Secret holds %q, want %q", got, want)
		}
	}
	if _, err := controlplane.WaitForSync(ctx, cp.Client, key); err != nil {
		t.Fatal(err)
	}
	expectValue("one")

	if _, err := sm.PutValue(ctx, remote, "two"); err != nil {
		t.Fatal(err)
	}
	refresh("put")
	expectValue("two")

	pending, err := sm.PutPending(ctx, remote, "three")
	if err != nil {
		t.Fatal(err)
	}
	refresh("pending")
	expectValue("two")

	if err := sm.Promote(ctx, remote, pending); err != nil {
		t.Fatal(err)
	}
	refresh("promoted")
	expectValue("three")
	if calls := cp.LocalSecretsManager.Calls()["GetSecretValue"]; calls == 0 {
		t.Error("ESO made no GetSecretValue call to the in-process endpoint")
	}
}
