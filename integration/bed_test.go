package integration_test

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// esoDataHash is the annotation ESO writes on every Secret it manages: a digest
// of the Secret's data. It changes exactly when ESO writes new data.
const esoDataHash = "reconcile.external-secrets.io/data-hash"

// TestRotationReachesNewPodsThroughRealESO walks the whole bed the way a user
// would check it: AWS → ESO → Secret → Deployment with Ready pods → a new value
// → ESO confirms the new write → a pod-template patch rolls new Ready pods.
func TestRotationReachesNewPodsThroughRealESO(t *testing.T) {
	cp := harness.ControlPlane(t)
	ctx := harness.Context(t)
	ns := harness.Namespace(t)
	c := cp.Client

	remoteKey := ns + "/db-password"
	if _, err := cp.SecretsManager.CreateSecret(ctx, remoteKey, "first-value"); err != nil {
		t.Fatal(err)
	}
	harness.SecretStore(t, ns)
	es := controlplane.ExternalSecret(ns, "db", remoteKey, "password", time.Hour)
	if err := c.Create(ctx, es); err != nil {
		t.Fatalf("creating ExternalSecret: %v", err)
	}
	esKey := client.ObjectKeyFromObject(es)
	if _, err := controlplane.WaitForSync(ctx, c, esKey); err != nil {
		t.Fatal(err)
	}
	firstHash := secretHasValue(t, c, esKey, "first-value")

	deployment := consumerDeployment(ns, "api", es.Spec.Target.Name)
	if err := c.Create(ctx, deployment); err != nil {
		t.Fatalf("creating Deployment: %v", err)
	}
	if err := controlplane.WaitForRollout(ctx, c, deployment); err != nil {
		t.Fatal(err)
	}
	firstPods := map[string]bool{}
	for _, pod := range readyPods(t, c, ns, 2) {
		firstPods[pod.Name] = true
	}

	// A new value in AWS, and an annotation change on the ES: ESO refreshes at
	// once instead of waiting for its one-hour refreshInterval.
	if _, err := cp.SecretsManager.PutValue(ctx, remoteKey, "second-value"); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(es.DeepCopy())
	es.Annotations = map[string]string{"eso-bridge.io/test-refresh": "1"}
	if err := c.Patch(ctx, es, patch); err != nil {
		t.Fatalf("annotating ExternalSecret: %v", err)
	}
	synced, err := controlplane.WaitForSync(ctx, c, esKey)
	if err != nil {
		t.Fatal(err)
	}
	if synced.Status.RefreshTime.IsZero() {
		t.Error("ESO's status has no refreshTime after the sync")
	}
	secondHash := secretHasValue(t, c, esKey, "second-value")
	if secondHash == firstHash {
		t.Errorf("the Secret's %s stayed %s after ESO wrote a new value", esoDataHash, firstHash)
	}

	// The restart eso-bridge will make: a pod-template annotation patch.
	patch = client.MergeFrom(deployment.DeepCopy())
	deployment.Spec.Template.Annotations = map[string]string{"eso-bridge.io/test-restart": secondHash}
	if err := c.Patch(ctx, deployment, patch); err != nil {
		t.Fatalf("patching the pod template: %v", err)
	}
	if err := controlplane.WaitForRollout(ctx, c, deployment); err != nil {
		t.Fatal(err)
	}
	for _, pod := range readyPods(t, c, ns, 2) {
		if firstPods[pod.Name] {
			t.Errorf("pod %s from before the restart is still serving", pod.Name)
		}
		if got := pod.Annotations["eso-bridge.io/test-restart"]; got != secondHash {
			t.Errorf("pod %s carries restart annotation %q, want %q", pod.Name, got, secondHash)
		}
	}
}

// secretHasValue checks that ESO wrote value under key "password" with its
// data-hash annotation and managed label, and returns the data hash.
func secretHasValue(t *testing.T, c client.Client, key types.NamespacedName, value string) string {
	t.Helper()
	var secret corev1.Secret
	if err := c.Get(t.Context(), key, &secret); err != nil {
		t.Fatalf("reading Secret %s: %v", key, err)
	}
	if got := string(secret.Data["password"]); got != value {
		t.Errorf("Secret %s holds %q, want %q", key, got, value)
	}
	if secret.Labels["reconcile.external-secrets.io/managed"] != "true" {
		t.Errorf("Secret %s lacks ESO's managed label: %v", key, secret.Labels)
	}
	hash := secret.Annotations[esoDataHash]
	if hash == "" {
		t.Fatalf("Secret %s has no %s annotation", key, esoDataHash)
	}
	return hash
}

// readyPods returns the namespace's live pods, failing unless exactly want of
// them exist, each Running and Ready on a simulated node.
func readyPods(t *testing.T, c client.Client, namespace string, want int) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(t.Context(), &pods, client.InNamespace(namespace)); err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	var live []corev1.Pod
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil {
			continue
		}
		live = append(live, pod)
		if pod.Status.Phase != corev1.PodRunning || !podReady(&pod) {
			t.Errorf("pod %s is %s, ready=%v; want Running and Ready", pod.Name, pod.Status.Phase, podReady(&pod))
		}
		if pod.Spec.NodeName != controlplane.NodeName(0) {
			t.Errorf("pod %s is on node %q, want %s", pod.Name, pod.Spec.NodeName, controlplane.NodeName(0))
		}
	}
	if len(live) != want {
		t.Fatalf("%d live pods in %s, want %d", len(live), namespace, want)
	}
	return live
}

func podReady(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// consumerDeployment is a two-replica Deployment reading secretName through
// envFrom, as an application reads its database password.
func consumerDeployment(namespace, name, secretName string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:    "app",
					Image:   "registry.k8s.io/pause:3.10",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secretName}}}},
				}}},
			},
		},
	}
}
