package inprocess_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/tracing"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// withTracing is withAWS with every span sent at once to spans.
func withTracing(s *harness.Scenario, spans *tracetest.InMemoryExporter) bridge.ManagerOptions {
	mo := withAWS(s)
	mo.Tracing = tracing.Options{Exporter: spans, Synchronous: true}
	return mo
}

// stageHistograms are the latency histograms of a rotation's three stages.
var stageHistograms = []string{"eso_bridge_vault_to_write_seconds", "eso_bridge_write_to_patch_seconds", "eso_bridge_patch_to_ready_seconds"}

func observations(t *testing.T) map[string]float64 {
	counts := map[string]float64{}
	for _, name := range stageHistograms {
		counts[name] = harness.Counter(t, name, nil)
	}
	return counts
}

// waitForRoot waits until the rotation's root span has been exported by any
// of the exporters, and returns every span they hold.
func waitForRoot(s *harness.Scenario, exporters ...*tracetest.InMemoryExporter) tracetest.SpanStubs {
	s.T.Helper()
	var all tracetest.SpanStubs
	s.WaitFor("the secret.rotation span", func() (bool, string) {
		all = nil
		for _, e := range exporters {
			all = append(all, e.GetSpans()...)
		}
		return slices.ContainsFunc(all, func(span tracetest.SpanStub) bool { return span.Name == "secret.rotation" }), spanNames(all)
	})
	return all
}

func spanNames(spans tracetest.SpanStubs) string {
	var names []string
	for _, span := range spans {
		names = append(names, span.Name)
	}
	return "spans: " + strings.Join(names, ", ")
}

// oneTrace checks that spans are exactly one secret.rotation root with one
// eso.refresh and one workload.rollout per named workload as its children,
// all in one trace, each ending after it starts; it returns them by name.
func oneTrace(t *testing.T, spans tracetest.SpanStubs, workloads ...string) map[string]tracetest.SpanStub {
	t.Helper()
	byName := map[string]tracetest.SpanStub{}
	counts := map[string]int{}
	for _, span := range spans {
		counts[span.Name]++
		byName[span.Name] = span
		if span.EndTime.Before(span.StartTime) {
			t.Errorf("span %s ends (%s) before it starts (%s)", span.Name, span.EndTime, span.StartTime)
		}
	}
	want := map[string]int{"secret.rotation": 1, "eso.refresh": 1, "workload.rollout": len(workloads)}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%d %s span(s), want %d (%s)", counts[name], name, n, spanNames(spans))
		}
	}
	root := byName["secret.rotation"]
	if root.Parent.IsValid() {
		t.Errorf("secret.rotation has a parent %s; it is the root", root.Parent.SpanID())
	}
	for _, span := range spans {
		if span.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("span %s is in trace %s, want the rotation's %s", span.Name, span.SpanContext.TraceID(), root.SpanContext.TraceID())
		}
		if span.Name != "secret.rotation" && span.Parent.SpanID() != root.SpanContext.SpanID() {
			t.Errorf("span %s has parent %s, want secret.rotation %s", span.Name, span.Parent.SpanID(), root.SpanContext.SpanID())
		}
		if span.StartTime.Before(root.StartTime) || span.EndTime.After(root.EndTime) {
			t.Errorf("span %s (%s..%s) lies outside secret.rotation (%s..%s)", span.Name, span.StartTime, span.EndTime, root.StartTime, root.EndTime)
		}
	}
	return byName
}

func attr(span tracetest.SpanStub, key string) string {
	for _, kv := range span.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func attrSlice(span tracetest.SpanStub, key string) []string {
	for _, kv := range span.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsStringSlice()
		}
	}
	return nil
}

// newPods returns the names of the workload's pods that carry the trace ID
// in their traceparent, and of those that do not.
func newPods(s *harness.Scenario, app string, tid trace.TraceID) (carrying, others []string) {
	var pods corev1.PodList
	if err := s.Client.List(s.Ctx, &pods, client.InNamespace(s.NS), client.MatchingLabels{"app": app}); err != nil {
		s.T.Fatal(err)
	}
	for _, pod := range pods.Items {
		if !pod.DeletionTimestamp.IsZero() {
			continue
		}
		if strings.Contains(pod.Annotations[annotations.AnnotationTraceparent], tid.String()) {
			carrying = append(carrying, pod.Name)
		} else {
			others = append(others, pod.Name)
		}
	}
	slices.Sort(carrying)
	return carrying, others
}

// A put in AWS becomes one trace: secret.rotation from the vault's change
// time, eso.refresh from the trigger to ESO's confirmation, and
// workload.rollout from the patch to the last new pod Ready. The trace ID is
// on the ExternalSecret, the Secret and every new pod; each stage's
// histogram observes once; `eso-bridge trace` prints the same timeline.
func TestRotationIsOneTraceFromVaultToReadyPods(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	spans := tracetest.NewInMemoryExporter()
	s.StartBridgeWith(harness.TestOptions(), withTracing(s, spans))
	s.WaitAdopted(api)
	letPollerLook()
	before := observations(t)

	version, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	all := waitForRoot(s, spans)
	s.ExpectRestarts(api, 1)
	byName := oneTrace(t, all, "api")
	root, refresh, rollout := byName["secret.rotation"], byName["eso.refresh"], byName["workload.rollout"]
	tid := root.SpanContext.TraceID()

	if got := annotation(s, es, annotations.AnnotationTraceparent); !strings.Contains(got, tid.String()) {
		t.Errorf("the ExternalSecret's traceparent is %q, want trace %s", got, tid)
	}
	var secret corev1.Secret
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: "db"}, &secret); err != nil {
		t.Fatal(err)
	}
	if got := secret.Annotations[annotations.AnnotationTraceparent]; !strings.Contains(got, tid.String()) {
		t.Errorf("ESO carried traceparent %q to the Secret, want trace %s", got, tid)
	}
	carrying, others := newPods(s, "api", tid)
	if len(carrying) != 2 || len(others) != 0 {
		t.Errorf("pods carrying the trace: %v, without it: %v; want the 2 new pods with it", carrying, others)
	}

	changed, err := time.Parse(time.RFC3339Nano, annotation(s, es, annotations.AnnotationVaultChangedAt))
	if err != nil {
		t.Fatal(err)
	}
	if !root.StartTime.Equal(changed) {
		t.Errorf("secret.rotation starts at %s, want the vault's change time %s", root.StartTime, changed)
	}
	if !refresh.StartTime.Before(rollout.StartTime) {
		t.Errorf("eso.refresh starts at %s, not before workload.rollout at %s", refresh.StartTime, rollout.StartTime)
	}
	if got := attr(root, "vault.version_ids"); !strings.Contains(got, version) {
		t.Errorf("secret.rotation vault.version_ids = %s, want %s", got, version)
	}
	if got := attr(root, "aws.secretsmanager.arns"); !strings.Contains(got, "arn:aws:secretsmanager:") {
		t.Errorf("secret.rotation aws.secretsmanager.arns = %s, want the secret's ARN", got)
	}
	for key, want := range map[string]string{"eso.externalsecret.name": "db", "k8s.secret.name": "db"} {
		if got := attr(refresh, key); got != want {
			t.Errorf("eso.refresh %s = %q, want %q", key, got, want)
		}
	}
	if got := attr(rollout, "k8s.workload.name"); got != "api" {
		t.Errorf("workload.rollout k8s.workload.name = %q, want api", got)
	}
	// The span lists the pods in the order they became Ready; which pods
	// they are is what matters here.
	if got, want := slices.Sorted(slices.Values(attrSlice(rollout, "k8s.pod.names"))), slices.Sorted(slices.Values(carrying)); !slices.Equal(got, want) {
		t.Errorf("workload.rollout k8s.pod.names = %s, want the new pods %s", got, want)
	}

	after := observations(t)
	for _, name := range stageHistograms {
		if got := after[name] - before[name]; got != 1 {
			t.Errorf("%s observed %v times during the rotation, want 1", name, got)
		}
	}
	s.WaitEvent(events.ReasonRolloutComplete, "api")

	table := traceCommand(s, "db")
	expectStagesInOrder(t, table, "vault change", "triggered", "ESO wrote", "ESO confirmed", "restarted", "pod Ready", "pod Ready", "rollout complete")
	if !strings.Contains(table, tid.String()) || !strings.Contains(table, "Waiting: nothing.") {
		t.Errorf("eso-bridge trace names another trace or waits for something:\n%s", table)
	}
	var parsed rotation.Rotation
	if err := json.Unmarshal([]byte(traceCommand(s, "deployment/api", "-o", "json")), &parsed); err != nil {
		t.Fatalf("eso-bridge trace -o json does not parse: %v", err)
	}
	if parsed.TraceID != tid.String() || len(parsed.Workloads) != 1 || parsed.Workloads[0].Outcome != events.ReasonRolloutComplete || len(parsed.Workloads[0].Pods) != 2 {
		t.Errorf("eso-bridge trace -o json of deployment/api: %+v, want trace %s with one complete rollout of 2 pods", parsed, tid)
	}
}

// A controller stopped after the patch and before the new pods are Ready:
// its successor follows the rollout and completes the same trace, and the
// workload rolled once.
func TestControllerRestartedMidRolloutContinuesTheTrace(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	// New pods count as available only after 3s: time to stop the controller mid-rollout.
	slow := s.Get(api).(*appsv1.Deployment)
	slow.Spec.MinReadySeconds = 3
	if err := s.Client.Update(s.Ctx, slow); err != nil {
		t.Fatal(err)
	}
	first, second := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
	stop := s.StartBridgeWith(harness.TestOptions(), withTracing(s, first))
	s.WaitAdopted(api)
	letPollerLook()

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.WaitFor("the restart patch", func() (bool, string) {
		template := s.Get(api).(*appsv1.Deployment).Spec.Template.Annotations
		return template[annotations.AnnotationTraceparent] != "", "template annotations: " + strings.Join(slices.Collect(maps.Keys(template)), ",")
	})
	stop()
	// The controller reads a Deployment as a record: decode it as its
	// cache does.
	whole, err := json.Marshal(s.Get(api))
	if err != nil {
		t.Fatal(err)
	}
	record := &workload.DeploymentRecord{}
	if err := json.Unmarshal(whole, record); err != nil {
		t.Fatal(err)
	}
	if progress, _ := (workload.Deployment{}).Progress(record); progress.Done {
		t.Fatal("the rollout finished before the controller stopped; the test did not stop it mid-rollout")
	}
	s.StartBridgeWith(harness.TestOptions(), withTracing(s, second))

	all := waitForRoot(s, first, second)
	s.ExpectRestarts(api, 1)
	byName := oneTrace(t, all, "api")
	tid := byName["secret.rotation"].SpanContext.TraceID()
	if carrying, others := newPods(s, "api", tid); len(carrying) != 2 || len(others) != 0 {
		t.Errorf("pods carrying the trace: %v, without it: %v; want the 2 new pods with it", carrying, others)
	}
	if n := len(first.GetSpans()); n != 0 {
		t.Logf("the first controller exported %d span(s) before it stopped", n)
	}
}

// Nothing eso-bridge exports — spans, Events, its log, its metrics — holds
// a secret value or ESO's data hash, before or after a rotation.
func TestNoSecretValueOrDataHashInSpansEventsLogsOrMetrics(t *testing.T) {
	s := harness.NewScenario(t)
	oldValue, newValue := "leak-canary-old-"+s.NS, "leak-canary-new-"+s.NS
	s.ExternalSecret("db", oldValue, rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	spans := tracetest.NewInMemoryExporter()
	s.StartBridgeWith(harness.TestOptions(), withTracing(s, spans))
	s.WaitAdopted(api)
	letPollerLook()
	oldHash := secretDataHash(s, "db")

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), newValue); err != nil {
		t.Fatal(err)
	}
	waitForRoot(s, spans)
	s.ExpectRestarts(api, 1)
	s.WaitEvent(events.ReasonRolloutComplete, "api")
	newHash := secretDataHash(s, "db")
	if oldHash == "" || newHash == "" || oldHash == newHash {
		t.Fatalf("ESO's data hashes before and after (%q, %q) are not two different values", oldHash, newHash)
	}

	exported := map[string]string{
		"the spans":   mustJSON(t, spans.GetSpans()),
		"the Events":  harness.EventsText(s.Ctx, s.Client, s.NS),
		"the log":     harness.BridgeLog(t, s),
		"the metrics": harness.MetricsText(t),
	}
	if !strings.Contains(exported["the spans"], "workload.rollout") || !strings.Contains(exported["the Events"], events.ReasonRolloutComplete) || !strings.Contains(exported["the log"], s.NS) {
		t.Fatal("the scan has nothing to look at: spans, Events or log lines of this rotation are missing")
	}
	expectNoneIn(t, exported, []string{oldValue, newValue, oldHash, newHash}, "a secret value or data hash")
}

// expectNoneIn fails for each of needles found in one of the texts (by
// where they were seen); what says what a needle is.
func expectNoneIn(t *testing.T, texts map[string]string, needles []string, what string) {
	t.Helper()
	for where, text := range texts {
		for _, needle := range needles {
			if strings.Contains(text, needle) {
				t.Errorf("%s hold %q, %s", where, needle, what)
			}
		}
	}
}

func secretDataHash(s *harness.Scenario, name string) string {
	var secret corev1.Secret
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: name}, &secret); err != nil {
		s.T.Fatal(err)
	}
	return secret.Annotations[eso.DataHashAnnotation]
}

func mustJSON(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// traceCommand runs `eso-bridge trace` on namespace/object and returns what it printed.
func traceCommand(s *harness.Scenario, object string, flags ...string) string {
	s.T.Helper()
	var stdout, stderr bytes.Buffer
	args := append([]string{"--kubeconfig", s.CP.KubeconfigPath, "--digest-key-secret", s.NS + "/" + bridge.DefaultDigestKeySecret}, flags...)
	if err := app.Trace(s.Ctx, append(args, s.NS+"/"+object), &stdout, &stderr); err != nil {
		s.T.Fatalf("eso-bridge trace %s: %v\n%s", object, err, stderr.String())
	}
	s.T.Logf("eso-bridge trace %s:\n%s", object, stdout.String())
	return stdout.String()
}

// tableColumns separates the columns of a table printed with tabwriter.
var tableColumns = regexp.MustCompile(`\s{2,}`)

// expectStagesInOrder checks that the table's rows are the stages, in order,
// with times that never go back.
func expectStagesInOrder(t *testing.T, table string, stages ...string) {
	t.Helper()
	var got []string
	var last time.Time
	for _, line := range strings.Split(table, "\n") {
		columns := tableColumns.Split(strings.TrimSpace(line), -1)
		if len(columns) < 3 {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z", columns[2])
		if err != nil {
			continue
		}
		got = append(got, columns[0])
		if at.Before(last) {
			t.Errorf("stage %q at %s comes before the previous stage at %s", columns[0], at, last)
		}
		last = at
	}
	if !slices.Equal(got, stages) {
		t.Errorf("stages printed: %q, want %q", got, stages)
	}
}

// Someone who can read workloads, ReplicaSets and pods (the `view` role) or
// the trace backend, but not Secrets, cannot test a guess of a secret value:
// even with the right guess, and ESO's data-hash of it, nothing they see
// equals a digest they could compute from it — what eso-bridge records is
// keyed with a key in a Secret they cannot read.
func TestAViewerCannotTestAGuessOfASecretValue(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "guessable-1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	spans := tracetest.NewInMemoryExporter()
	// No vault: the rotation below is one eso-bridge did not trigger, whose
	// trace is derived from the Secret's write.
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0",
		Tracing: tracing.Options{Exporter: spans, Synchronous: true}})
	s.WaitAdopted(api)
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "guessable-2"); err != nil {
		t.Fatal(err)
	}
	s.Refresh("db")
	s.ExpectRestarts(api, 1)
	waitForRoot(s, spans)

	// The right guess, as an attacker would hash it: ESO's data-hash, then
	// each digest eso-bridge would record of it without a key.
	hash := secretDataHash(s, "db")
	source := gate.Source{Secret: "db", DataHash: hash}
	guesses := []string{
		gate.Digest(digest.Unkeyed, source),
		gate.SourceHash(digest.Unkeyed, []gate.Source{source}),
		traceparent.OfWrite(digest.Unkeyed, s.NS, "db", hash).TraceID().String(),
	}
	var replicaSets appsv1.ReplicaSetList
	var pods corev1.PodList
	for _, list := range []client.ObjectList{&replicaSets, &pods} {
		if err := s.Client.List(s.Ctx, list, client.InNamespace(s.NS)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]string{
		"the Deployment":  mustJSON(t, s.Get(api)),
		"its ReplicaSets": mustJSON(t, replicaSets),
		"the pods":        mustJSON(t, pods),
		"the spans":       mustJSON(t, spans.GetSpans()),
		"the Events":      harness.EventsText(s.Ctx, s.Client, s.NS),
	}
	if !strings.Contains(seen["the Deployment"], annotations.AnnotationSourceDigests) || !strings.Contains(seen["its ReplicaSets"], annotations.AnnotationSourceHash) {
		t.Fatal("the scan has nothing to look at: the Deployment and its ReplicaSets carry no digests")
	}
	expectNoneIn(t, seen, guesses, "which anyone can compute from a guessed value: a right guess is confirmed")
}

// A restart held by a source ESO failed to sync is visible where a user
// looks: a SyncError Warning on the workload, and `eso-bridge trace` of the
// rotation names the ExternalSecret and ESO's reason.
func TestAHeldRestartIsExplainedByTheTrace(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	opts := harness.TestOptions()
	// Long enough to break db's next sync before the restart.
	opts.Settle = 30 * time.Second
	s.StartBridge(opts)
	s.WaitAdopted(api)

	s.Rotate("db")
	// ESO's next sync of db fails: its secret is gone from AWS.
	if err := s.CP.SecretsManager.DeleteSecret(s.Ctx, s.RemoteKey("db")); err != nil {
		t.Fatal(err)
	}
	s.RequestRefresh("db")
	s.WaitEventSaying(gate.ReasonSyncError, "api", "ExternalSecret db")
	s.ExpectNoMoreRestartsThan(api, 0)
	table := traceCommand(s, "db")
	if !strings.Contains(table, "ExternalSecret db is not Ready (Ready=False SecretSyncedError") {
		t.Errorf("the trace does not say which source holds the restart, and why:\n%s", table)
	}
}
