package integration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

var (
	rolloutAuto = map[string]string{annotations.AnnotationRollout: "auto"}
	workloadOn  = map[string]string{annotations.AnnotationAuto: "true"}
)

// A rotation restarts each consumer exactly once, the rollout completes to
// Ready pods and is reported once, and a workload that does not use the
// Secret is left alone.
func TestRotationRestartsEachConsumerOnce(t *testing.T) {
	for _, kind := range harness.WorkloadKinds {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			s := harness.NewScenario(t)
			s.ExternalSecret("db", "v1", rolloutAuto)
			s.ExternalSecret("other", "v1", rolloutAuto)
			consumer := s.Workload(kind, "consumer", nil, "db")
			bystander := s.Workload(kind, "bystander", nil, "other")
			s.StartBridge(harness.TestOptions())
			s.WaitAdopted(consumer)
			s.WaitAdopted(bystander)

			s.Rotate("db")
			s.ExpectRestarts(consumer, 1)
			if got := s.Restarts(bystander); got != 0 {
				t.Errorf("a workload not using the rotated Secret was restarted %d time(s)", got)
			}
			template := harness.PodTemplate(t, s.Get(consumer))
			if template.Annotations[annotations.AnnotationSourceHash] != s.Get(consumer).GetAnnotations()[annotations.AnnotationSourceHash] {
				t.Errorf("pod template hash %q differs from the recorded hash %q", template.Annotations[annotations.AnnotationSourceHash], s.Get(consumer).GetAnnotations()[annotations.AnnotationSourceHash])
			}
			if msg := s.WaitEvent(events.ReasonRestarted, "consumer"); !strings.Contains(msg, "db") {
				t.Errorf("Restarted event %q does not name the ExternalSecret", msg)
			}
			// The rollout is followed to its end and reported once.
			s.WaitEvent(events.ReasonRolloutComplete, "consumer")
			if got := countEvents(s, events.ReasonRolloutComplete, "consumer"); got != 1 {
				t.Errorf("%d RolloutComplete Events, want 1", got)
			}
			if result := s.Get(consumer).GetAnnotations()[annotations.AnnotationRolloutResult]; !strings.Contains(result, events.ReasonRolloutComplete) {
				t.Errorf("the workload's %s is %q", annotations.AnnotationRolloutResult, result)
			}
		})
	}
}

// Three ExternalSecrets used by one workload, rotated together within the
// settle window, cause a single restart.
func TestSourcesRotatedTogetherRestartOnce(t *testing.T) {
	s := harness.NewScenario(t)
	for _, name := range []string{"db", "cache", "queue"} {
		s.ExternalSecret(name, "v1", nil)
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", workloadOn, "db", "cache", "queue")
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(api)

	s.Rotate("db", "cache", "queue")
	s.ExpectRestarts(api, 1)
}

// A sync error holds the restart with a Warning naming the ExternalSecret;
// once fixed, the workload restarts exactly once.
func TestSyncErrorHoldsRestartUntilFixed(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(api)

	heldBefore := harness.Counter(t, "eso_bridge_holds_total", map[string]string{"reason": gate.ReasonSyncError})
	if err := s.CP.SecretsManager.DeleteSecret(s.Ctx, s.RemoteKey("db")); err != nil {
		t.Fatal(err)
	}
	touch(s, "db")
	if msg := s.WaitEvent(gate.ReasonSyncError, "api"); !strings.Contains(msg, "ExternalSecret db") {
		t.Errorf("the Warning %q does not name the ExternalSecret", msg)
	}
	if held := harness.Counter(t, "eso_bridge_holds_total", map[string]string{"reason": gate.ReasonSyncError}); held <= heldBefore {
		t.Errorf("eso_bridge_holds_total{reason=SyncError} stayed at %v after a held restart", held)
	}
	s.ExpectNoMoreRestartsThan(api, 0)

	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.Refresh("db")
	s.ExpectRestarts(api, 1)
}

// A controller stopped after ESO's write restarts the workload exactly once
// when it comes back: the recorded hash, not memory, says what is done.
func TestControllerRestartedAfterESOWriteRestartsOnce(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	stop := s.StartBridge(harness.TestOptions())
	s.WaitAdopted(api)
	stop()

	s.Rotate("db")
	s.ExpectNoMoreRestartsThan(api, 0)
	s.StartBridge(harness.TestOptions())
	s.ExpectRestarts(api, 1)

	// And once more: a third start after the restart repeats nothing.
	s.StartBridge(harness.TestOptions())
	s.ExpectNoMoreRestartsThan(api, 1)
}

// Workloads that existed before the controller started are adopted without a
// restart, and a refresh that changes nothing restarts nothing.
func TestAdoptionAndUnchangedRefreshRestartNothing(t *testing.T) {
	for _, kind := range harness.WorkloadKinds {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			s := harness.NewScenario(t)
			s.ExternalSecret("db", "v1", rolloutAuto)
			w := s.Workload(kind, "existing", nil, "db")
			s.StartBridge(harness.TestOptions())
			s.WaitAdopted(w)
			s.ExpectNoMoreRestartsThan(w, 0)

			s.Refresh("db") // ESO fetches the same value again
			s.ExpectNoMoreRestartsThan(w, 0)
		})
	}
}

// ignore wins over every opt-in.
func TestIgnoreAnnotationNeverRestarts(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	ignored := s.Workload(harness.WorkloadKinds[0], "ignored", map[string]string{annotations.AnnotationIgnore: "true", annotations.AnnotationAuto: "true"}, "db")
	opts := harness.TestOptions()
	opts.AutoAll = true
	s.StartBridge(opts)
	followed := s.Workload(harness.WorkloadKinds[0], "followed", nil, "db")
	s.WaitAdopted(followed)

	s.Rotate("db")
	s.ExpectRestarts(followed, 1)
	if got := s.Restarts(ignored); got != 0 {
		t.Errorf("an ignored workload was restarted %d time(s)", got)
	}
}

// Without any annotation only --auto-all restarts a consumer.
func TestAutoAllRestartsUnannotatedConsumers(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", nil)
	plain := s.Workload(harness.WorkloadKinds[0], "plain", nil, "db")
	stop := s.StartBridge(harness.TestOptions())
	s.Rotate("db")
	s.ExpectNoMoreRestartsThan(plain, 0)
	stop()

	opts := harness.TestOptions()
	opts.AutoAll = true
	s.StartBridge(opts)
	s.WaitAdopted(plain)
	s.Rotate("db")
	s.ExpectRestarts(plain, 1)
}

// The per-ExternalSecret list restarts exactly the workloads it names, even one
// whose pod template does not name the Secret; a workload's own list of
// ExternalSecrets does the same from the other side.
func TestExplicitListsRestartExactlyTheNamedWorkloads(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "deployment/named, statefulset/missing"})
	s.ExternalSecret("cert", "v1", nil)
	named := s.Workload(harness.WorkloadKinds[0], "named", nil)
	unnamed := s.Workload(harness.WorkloadKinds[0], "unnamed", nil, "db")
	follower := s.Workload(harness.WorkloadKinds[0], "follower", map[string]string{annotations.AnnotationExternalSecrets: "cert"})
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(named)
	s.WaitAdopted(follower)
	if msg := s.WaitEvent(events.ReasonMissingReference, "db"); !strings.Contains(msg, "statefulset/missing") {
		t.Errorf("the Warning %q does not name the missing workload", msg)
	}

	s.Rotate("db", "cert")
	s.ExpectRestarts(named, 1)
	s.ExpectRestarts(follower, 1)
	if got := s.Restarts(unnamed); got != 0 {
		t.Errorf("a workload the list does not name was restarted %d time(s)", got)
	}
}

// Namespaces outside the scope are never touched, whatever they ask for:
// not in --namespaces, not matching --namespace-selector, or excluded.
func TestNamespaceScopeLeavesOtherNamespacesAlone(t *testing.T) {
	inside, outside, excluded := harness.NewScenario(t), harness.NewScenario(t), harness.NewScenario(t)
	workloads := map[*harness.Scenario]client.Object{}
	for _, s := range []*harness.Scenario{inside, outside, excluded} {
		s.ExternalSecret("db", "v1", rolloutAuto)
		workloads[s] = s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	}
	// outside is neither listed nor labelled; excluded is labelled but excluded.
	for _, s := range []*harness.Scenario{inside, excluded} {
		label(s, scopeLabel, t.Name())
	}
	listed := harness.TestOptions()
	listed.Namespaces = []string{inside.NS}
	inside.StartBridge(listed)
	selected := harness.TestOptions()
	selected.NamespaceSelector = scopeLabel + "=" + t.Name()
	selected.ExcludeNamespaces = []string{excluded.NS}
	inside.StartBridge(selected) // a second installation, scoped by label
	inside.WaitAdopted(workloads[inside])

	for s := range workloads {
		s.Rotate("db")
	}
	inside.ExpectRestarts(workloads[inside], 1)
	for _, s := range []*harness.Scenario{outside, excluded} {
		if own := s.Get(workloads[s]).GetAnnotations(); own[annotations.AnnotationSourceHash] != "" {
			t.Errorf("a workload in out-of-scope namespace %s was adopted: %v", s.NS, own)
		}
		if got := s.Restarts(workloads[s]); got != 0 {
			t.Errorf("a workload in out-of-scope namespace %s was restarted %d time(s)", s.NS, got)
		}
	}
}

// scopeLabel marks the namespaces a scoped installation selects.
const scopeLabel = "test.eso-bridge.io/scope"

// Bad annotations get a Warning Event and are otherwise ignored; a list naming
// another namespace's workload is refused; the controller keeps working.
func TestBadAnnotationsWarnAndChangeNothing(t *testing.T) {
	s := harness.NewScenario(t)
	victim := harness.NewScenario(t)
	victim.ExternalSecret("db", "v1", nil)
	victimWorkload := victim.Workload(harness.WorkloadKinds[0], "api", nil, "db")

	s.ExternalSecret("cross", "v1", map[string]string{annotations.AnnotationRollout: victim.NS + "/deployment/api"})
	s.ExternalSecret("garbled", "v1", map[string]string{annotations.AnnotationRollout: "deployment"})
	s.ExternalSecret("db", "v1", rolloutAuto)
	bad := s.Workload(harness.WorkloadKinds[0], "bad", map[string]string{annotations.AnnotationAuto: "yes please", annotations.AnnotationExternalSecrets: "no-such-es"}, "cross")
	good := s.Workload(harness.WorkloadKinds[0], "good", nil, "db")
	opts := harness.TestOptions()
	opts.Namespaces = []string{s.NS, victim.NS}
	s.StartBridge(opts)

	if msg := s.WaitEvent(events.ReasonInvalidAnnotation, "cross"); !strings.Contains(msg, "own namespace") {
		t.Errorf("the cross-namespace Warning says %q", msg)
	}
	s.WaitEvent(events.ReasonInvalidAnnotation, "garbled")
	s.WaitEvent(events.ReasonInvalidAnnotation, "bad")
	if msg := s.WaitEvent(events.ReasonMissingReference, "bad"); !strings.Contains(msg, "no-such-es") {
		t.Errorf("the missing-reference Warning says %q", msg)
	}

	// Still healthy: a good rotation in the same namespace restarts its consumer.
	s.WaitAdopted(good)
	s.Rotate("db", "cross")
	s.ExpectRestarts(good, 1)
	if got := victim.Restarts(victimWorkload); got != 0 {
		t.Errorf("a workload in another namespace was restarted %d time(s) by a cross-namespace list", got)
	}
	if got := s.Restarts(bad); got != 0 {
		t.Errorf("a workload with unparsable opt-in annotations was restarted %d time(s)", got)
	}
}

// label sets a label on the scenario's namespace.
func label(s *harness.Scenario, key, value string) {
	s.T.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.NS}}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	if err := s.Client.Patch(s.Ctx, ns, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		s.T.Fatalf("labelling namespace %s: %v", s.NS, err)
	}
}

// touch makes ESO look at an ExternalSecret again without waiting for success.
func touch(s *harness.Scenario, name string) {
	s.T.Helper()
	es := s.Get(externalSecretRef(s.NS, name))
	annotations := es.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["test.eso-bridge.io/touch"] = metav1.Now().Format("150405.000000")
	es.SetAnnotations(annotations)
	if err := s.Client.Update(s.Ctx, es); err != nil {
		s.T.Fatalf("touching ExternalSecret %s: %v", name, err)
	}
}

func externalSecretRef(namespace, name string) *esv1.ExternalSecret {
	return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

// A CronJob's job template is updated once, so its next run gets the new
// value; jobs already running are left alone.
func TestRotationUpdatesCronJobTemplateOnce(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: s.NS},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 0 1 1 *", // never during the test
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "report", Image: "registry.k8s.io/pause:3.10", Env: []corev1.EnvVar{{
					Name: "DB", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "value"}},
				}}}},
			}}}},
		},
	}
	if err := s.Client.Create(s.Ctx, cron); err != nil {
		t.Fatal(err)
	}
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(cron)
	restartedAt := func() string {
		return s.Get(cron).(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Annotations[annotations.AnnotationRestartedAt]
	}
	if got := restartedAt(); got != "" {
		t.Fatalf("adoption changed the job template (restarted-at %q)", got)
	}

	before := restartsCounted(t, "CronJob")
	s.Rotate("db")
	s.WaitFor("the job template updated", func() (bool, string) { return restartedAt() != "", "not yet" })
	first := restartedAt()
	time.Sleep(harness.SettleMargin)
	if got := restartedAt(); got != first {
		t.Errorf("the job template was updated twice: %q then %q", first, got)
	}
	updated := s.Get(cron).(*batchv1.CronJob)
	if got, want := updated.Spec.JobTemplate.Spec.Template.Annotations[annotations.AnnotationSourceHash], updated.Annotations[annotations.AnnotationSourceHash]; got != want {
		t.Errorf("job template hash %q, recorded hash %q", got, want)
	}
	if got := restartsCounted(t, "CronJob") - before; got != 1 {
		t.Errorf("eso_bridge_restarts_total{kind=CronJob,result=success} rose by %v, want 1", got)
	}
}

// restartsCounted reads eso_bridge_restarts_total{kind,result="success"}.
func restartsCounted(t *testing.T, kind string) float64 {
	return harness.Counter(t, "eso_bridge_restarts_total", map[string]string{"kind": kind, "result": "success"})
}

// Where the cluster serves Argo Rollouts, a Rollout's inline pod template is
// restarted like any workload's. No Argo controller runs here: the test checks
// the template eso-bridge patches, which is what Argo rolls out.
func TestArgoRolloutTemplateRestartedOnce(t *testing.T) {
	s := harness.NewScenario(t)
	installArgoRolloutCRD(t, s)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "rollout/canary"})
	rollout := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "canary"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "canary"}},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "app", "image": "registry.k8s.io/pause:3.10",
					"envFrom": []any{map[string]any{"secretRef": map[string]any{"name": "db"}}},
				}}},
			},
		},
	}}
	rollout.SetGroupVersionKind(workload.ArgoRolloutGVK)
	rollout.SetNamespace(s.NS)
	rollout.SetName("canary")
	if err := s.Client.Create(s.Ctx, rollout); err != nil {
		t.Fatal(err)
	}
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(rollout)
	restartedAt := func() string {
		value, _, _ := unstructured.NestedString(s.Get(rollout).(*unstructured.Unstructured).Object, "spec", "template", "metadata", "annotations", annotations.AnnotationRestartedAt)
		return value
	}
	if got := restartedAt(); got != "" {
		t.Fatalf("adoption changed the Rollout's template (restarted-at %q)", got)
	}

	s.Rotate("db")
	s.WaitFor("the Rollout's template patched", func() (bool, string) { return restartedAt() != "", "not yet" })
	first := restartedAt()
	time.Sleep(harness.SettleMargin)
	if got := restartedAt(); got != first {
		t.Errorf("the Rollout's template was patched twice: %q then %q", first, got)
	}
}

// installArgoRolloutCRD serves argoproj.io/v1alpha1 Rollouts with a schema that
// keeps every field, which is all eso-bridge needs of the real CRD.
func installArgoRolloutCRD(t *testing.T, _ *harness.Scenario) {
	t.Helper()
	harness.InstallOpenCRD(t, workload.ArgoRolloutGVK)
}

// Two replicas with leader election restart a workload once per rotation, and
// when one stops the other carries on without repeating a restart.
func TestLeaderElectionHandsOverWithoutRepeatingRestarts(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	replica := bridge.ManagerOptions{
		MetricsAddr: "0", HealthAddr: "0",
		LeaderElection: true, LeaderElectionID: "eso-bridge", LeaderElectionNamespace: s.NS,
	}
	first := s.StartBridgeWith(harness.TestOptions(), replica)
	s.StartBridgeWith(harness.TestOptions(), replica)
	s.WaitAdopted(api)

	s.Rotate("db")
	s.ExpectRestarts(api, 1)
	first() // the leader or the standby: either way one replica is left
	s.Rotate("db")
	s.ExpectRestarts(api, 2)
}

// Every bad annotation reaches the user as a Warning of its own: a long
// value is quoted short (an Event holds 1,024 characters, and the API server
// drops a longer one), a path is not taken for a namespace, and two problems
// on one object stay two Warnings.
func TestEveryBadAnnotationGetsAWarningOfItsOwn(t *testing.T) {
	s := harness.NewScenario(t)
	long := strings.Repeat("ä", 5*1024)
	values := map[string]string{
		"long":     "deployment/" + long,
		"pathlike": "deployment/../x",
		"empty":    " , ,",
		"unicode":  "deployment/äpi",
		"missing":  "deployment/gone, statefulset/away",
	}
	for name, value := range values {
		s.ExternalSecret(name, "v1", map[string]string{annotations.AnnotationRollout: value})
	}
	twice := s.Workload(harness.WorkloadKinds[0], "twice", map[string]string{
		annotations.AnnotationAuto: "yes please", annotations.AnnotationExternalSecrets: "../db",
	}, "long")
	s.StartBridge(harness.TestOptions())

	s.WaitEventSaying(events.ReasonInvalidAnnotation, "long", "(10251 bytes)")
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "pathlike", `"deployment/../x" is not kind/name`)
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "empty", "names no workload")
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "unicode", "is not a valid name")
	s.WaitEventSaying(events.ReasonMissingReference, "missing", "deployment/gone, statefulset/away")
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "twice", annotations.AnnotationAuto)
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "twice", annotations.AnnotationExternalSecrets)

	var list corev1.EventList
	if err := s.Client.List(s.Ctx, &list, client.InNamespace(s.NS)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if len(e.Message) > 1024 {
			t.Errorf("the %s Event about %s is %d bytes long", e.Reason, e.InvolvedObject.Name, len(e.Message))
		}
		if e.Reason == events.ReasonInvalidAnnotation && e.Count > 1 {
			t.Errorf("the %s Event about %s was sent %d times; once per cause is enough", e.Reason, e.InvolvedObject.Name, e.Count)
		}
	}
	if got := s.Restarts(twice); got != 0 {
		t.Errorf("a workload with unparsable opt-in annotations was restarted %d time(s)", got)
	}
}

// A user who adds a Secret to their own pod template gets their own rollout,
// and only that one: the set of sources changed, no source's data did, so
// eso-bridge records the new set without a restart of its own. The added
// source is followed from then on.
func TestAUsersOwnPodTemplateEditRollsOnceNotTwice(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", nil)
	s.ExternalSecret("cache", "v1", nil)
	api := s.Workload(harness.WorkloadKinds[0], "api", workloadOn, "db")
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(api)

	// As kubectl edit does: read, change, write; again if the Deployment
	// changed meanwhile (its controller updates its status as pods start).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		edited := s.Get(api).(*appsv1.Deployment)
		container := &edited.Spec.Template.Spec.Containers[0]
		container.EnvFrom = append(container.EnvFrom, corev1.EnvFromSource{
			SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cache"}},
		})
		return s.Client.Update(s.Ctx, edited)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1) // the user's own
	s.WaitFor("the new set of sources to be recorded", func() (bool, string) {
		digests := s.Get(api).GetAnnotations()[annotations.AnnotationSourceDigests]
		return strings.Contains(digests, "cache="), "source-digests: " + digests
	})

	s.Rotate("cache")
	s.ExpectRestarts(api, 2)
}

// A source whose Secret ESO never writes — an ExternalSecret whose remote
// key does not exist — holds nothing: the workload is adopted, a rotation of
// its other source restarts it once, and past the maximum wait a Warning
// names the Secret that never came.
func TestASourceWhoseSecretIsNeverWrittenHoldsNothing(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", nil)
	ghost := controlplane.ExternalSecret(s.NS, "ghost", s.RemoteKey("no-such-secret"), "value", time.Hour)
	if err := s.Client.Create(s.Ctx, ghost); err != nil {
		t.Fatal(err)
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", workloadOn, "db", "ghost")
	opts := harness.TestOptions()
	opts.MaxGateWait = 20 * time.Second
	s.StartBridge(opts)
	s.WaitAdopted(api)
	s.Rotate("db")
	s.ExpectRestarts(api, 1)
	s.WaitEventSaying(gate.ReasonSecretMissing, "api", "ExternalSecret ghost has not written Secret ghost")
}

// Opting a workload in or out, or deleting an ExternalSecret whose Secret
// stays (deletionPolicy Retain), changes which sources it has, not their
// data: nothing restarts, and the sources it has afterwards are followed.
func TestChangingWhichSourcesAWorkloadFollowsRestartsNothing(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	cache := s.ExternalSecret("cache", "v1", nil)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db", "cache")
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(api)
	recorded := func(want string) {
		s.T.Helper()
		s.WaitFor("the sources "+want+" to be recorded", func() (bool, string) {
			digests := s.Get(api).GetAnnotations()[annotations.AnnotationSourceDigests]
			var names []string
			for _, entry := range strings.Split(digests, ",") {
				name, _, _ := strings.Cut(entry, "=")
				names = append(names, name)
			}
			return strings.Join(names, ",") == want, "source-digests: " + digests
		})
	}
	recorded("db")

	annotate := func(key, value string) {
		s.T.Helper()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, key, value)
		if err := s.Client.Patch(s.Ctx, s.Get(api), client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
			t.Fatal(err)
		}
	}
	annotate(annotations.AnnotationAuto, `"true"`) // opted in: cache is a source too
	recorded("cache,db")
	s.ExpectNoMoreRestartsThan(api, 0)

	retained := s.Get(cache).(*esv1.ExternalSecret)
	retained.Spec.Target.DeletionPolicy = esv1.DeletionPolicyRetain
	if err := s.Client.Update(s.Ctx, retained); err != nil {
		t.Fatal(err)
	}
	s.ExpectNoMoreRestartsThan(api, 0)
	if err := s.Client.Delete(s.Ctx, retained); err != nil {
		t.Fatal(err)
	}
	recorded("db")
	s.ExpectNoMoreRestartsThan(api, 0)

	annotate(annotations.AnnotationAuto, "null") // opted out again
	s.ExpectNoMoreRestartsThan(api, 0)
	s.Rotate("db")
	s.ExpectRestarts(api, 1)
}

// Restarting eso-bridge with --auto-all makes every ESO-managed Secret a
// workload uses one of its sources: the new ones are recorded, nothing
// restarts, and a rotation of one of them then restarts once.
func TestTurningAutoAllOnRestartsNothing(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	s.ExternalSecret("cache", "v1", nil)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db", "cache")
	stop := s.StartBridge(harness.TestOptions())
	s.WaitAdopted(api)
	stop()

	opts := harness.TestOptions()
	opts.AutoAll = true
	s.StartBridge(opts)
	s.WaitFor("cache to be recorded as a source", func() (bool, string) {
		digests := s.Get(api).GetAnnotations()[annotations.AnnotationSourceDigests]
		return strings.Contains(digests, "cache="), "source-digests: " + digests
	})
	s.ExpectNoMoreRestartsThan(api, 0)
	s.Rotate("cache")
	s.ExpectRestarts(api, 1)
}
