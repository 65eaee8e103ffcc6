package bench_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// vaultBed is a namespace where the real ESO syncs ExternalSecrets from the
// control plane's AWS Secrets Manager endpoint.
type vaultBed struct {
	cp *controlplane.ControlPlane
	ns string
}

func newVaultBed(b *testing.B) *vaultBed {
	b.Helper()
	bed := &vaultBed{cp: harness.ControlPlane(b), ns: harness.Namespace(b)}
	harness.SecretStore(b, bed.ns)
	return bed
}

// key is the AWS secret an ExternalSecret of the bed reads.
func (bed *vaultBed) key(name string) string { return bed.ns + "/" + name }

// externalSecret creates an AWS secret and an ExternalSecret for it
// (refreshInterval 1h: only a trigger refreshes it early), and waits for ESO.
func (bed *vaultBed) externalSecret(b *testing.B, name string, annotations map[string]string) {
	b.Helper()
	ctx := b.Context()
	if _, err := bed.cp.SecretsManager.CreateSecret(ctx, bed.key(name), "initial"); err != nil {
		b.Fatal(err)
	}
	harness.WaitPastTheSecond() // or eso-bridge may trigger a spare refresh at start
	es := controlplane.ExternalSecret(bed.ns, name, bed.key(name), "value", time.Hour)
	es.Annotations = annotations
	if err := bed.cp.Client.Create(ctx, es); err != nil {
		b.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(ctx, bed.cp.Client, client.ObjectKeyFromObject(es)); err != nil {
		b.Fatal(err)
	}
}

// deployment creates a one-replica Deployment reading secrets through
// envFrom, and waits for its pod.
func (bed *vaultBed) deployment(b *testing.B, name string, annotations map[string]string, secrets ...string) *appsv1.Deployment {
	b.Helper()
	container := corev1.Container{Name: "app", Image: "registry.k8s.io/pause:3.10"}
	for _, s := range secrets {
		container.EnvFrom = append(container.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: s}}})
	}
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: bed.ns, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{container}}},
		},
	}
	if err := bed.cp.Client.Create(b.Context(), d); err != nil {
		b.Fatal(err)
	}
	if err := controlplane.WaitForRollout(b.Context(), bed.cp.Client, d); err != nil {
		b.Fatal(err)
	}
	return d
}

// controller starts eso-bridge as a process scoped to the bed, with the AWS
// provider on the local endpoint polling every interval (0: off, or the
// events-on default when args name an event queue).
func (bed *vaultBed) controller(b *testing.B, interval time.Duration, args ...string) *child {
	b.Helper()
	var env []string
	for name, value := range bed.cp.AWSEnv() {
		env = append(env, name+"="+value)
	}
	events := slices.Contains(args, "--aws-events-queue-url")
	switch {
	case interval > 0:
		args = append(args, "--aws-poll-interval", interval.String())
	case !events:
		args = append(args, "--aws-poll-interval", "0")
	}
	// The bed's stores read static keys from a Secret.
	c := startController(b, "", env, append([]string{"--namespaces", bed.ns, "--aws-read-store-keys"}, args...)...)
	if interval > 0 || events {
		// Rotations are timed from a running poller: wait for its first cycle.
		deadline := time.Now().Add(time.Minute)
		for c.sum(b, "eso_bridge_aws_calls_total") == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("the controller made no AWS call in a minute; its log:\n%s", c.tail(30))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// rotate puts a new value for each named secret in AWS, and returns the
// new versions' IDs.
func (bed *vaultBed) rotate(b *testing.B, names ...string) []string {
	b.Helper()
	var versions []string
	for _, name := range names {
		version, err := bed.cp.SecretsManager.PutValue(context.Background(), bed.key(name), fmt.Sprintf("rotated-%d", time.Now().UnixNano()))
		if err != nil {
			b.Fatal(err)
		}
		versions = append(versions, version)
	}
	return versions
}

// refresh makes ESO fetch the ExternalSecret at once, as eso-bridge's
// trigger does, without a vault provider.
func (bed *vaultBed) refresh(b *testing.B, name string) {
	b.Helper()
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: bed.ns, Name: name}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench.eso-bridge.io/refresh":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if err := bed.cp.Client.Patch(context.Background(), es, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		b.Fatal(err)
	}
}

// restarts counts the Deployment's rollouts since it was created.
func (bed *vaultBed) restarts(b *testing.B, d client.Object) int {
	b.Helper()
	n, err := controlplane.Revisions(context.Background(), bed.cp.Client, d)
	if err != nil {
		b.Fatal(err)
	}
	return max(n-1, 0)
}

// waitAdopted waits until eso-bridge has recorded a source hash on the
// Deployment name: from then on, a rotation restarts it.
func (bed *vaultBed) waitAdopted(b *testing.B, name string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var d appsv1.Deployment
		if err := bed.cp.Client.Get(context.Background(), client.ObjectKey{Namespace: bed.ns, Name: name}, &d); err != nil {
			b.Fatal(err)
		}
		if d.Annotations[annotations.AnnotationSourceHash] != "" {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("Deployment %s not adopted after a minute", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
