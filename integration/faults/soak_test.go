package faults_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/tracing"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// soakRotations is how many rotations the soak makes; .ci/run uses the
// default, a longer soak passes more (go test -timeout 60m
// ./integration/faults -run Soak -soak.rotations=100: about 7 seconds a
// rotation, past go test's default timeout of 10 minutes).
var soakRotations = flag.Int("soak.rotations", 6, "rotations in TestSoakEveryWorkloadRollsOncePerRotationThroughKillsAndLeaderChanges")

// soakWorkload is a Deployment and the ExternalSecrets it reads.
type soakWorkload struct {
	name    string
	sources []string
	// wave is its eso-bridge.io/wave, if any.
	wave   string
	object client.Object
	want   int64
}

// Rotations of random sets of sources, while replicas of eso-bridge are
// killed at random moments and the lease changes hands: every workload rolls
// exactly once per rotation that changed one of its sources — none missed,
// none repeated — the waves of db run in order (none run twice, none
// skipped), one rollout at a time under a cap of 1, every restart's trace is complete, and afterwards nothing
// exported holds a secret value or ESO's data hash.
func TestSoakEveryWorkloadRollsOncePerRotationThroughKillsAndLeaderChanges(t *testing.T) {
	s := harness.NewScenario(t)
	sources := []string{"db", "cache", "api-key"}
	values := map[string]bool{}
	canary := func() string {
		v := fmt.Sprintf("soak-canary-%s-%d", s.NS, len(values))
		values[v] = true
		return v
	}
	for _, name := range sources {
		es := map[string]string{annotations.AnnotationRollout: "auto"}
		if name == "db" {
			// db's consumers restart in waves: orders, then checkout.
			es[annotations.AnnotationWaves] = string(annotations.WavesOrdered)
		}
		s.ExternalSecret(name, canary(), es)
	}
	orders := &soakWorkload{name: "orders", sources: []string{"db"}, wave: "1"}
	checkout := &soakWorkload{name: "checkout", sources: []string{"db", "cache"}, wave: "2"}
	workloads := []*soakWorkload{
		orders,
		{name: "search", sources: []string{"cache"}},
		checkout,
		{name: "gateway", sources: []string{"api-key"}},
	}
	for _, w := range workloads {
		var own map[string]string
		if w.wave != "" {
			own = map[string]string{annotations.AnnotationWave: w.wave}
		}
		w.object = s.Workload(harness.WorkloadKinds[0], w.name, own, w.sources...)
	}

	// One rollout in progress at a time in the namespace: the cap is counted
	// from the cluster, so a replica killed or a new leader counts the same.
	opts := harness.TestOptions()
	opts.NamespaceMaxRolloutsInProgress = 1
	var exporters []*tracetest.InMemoryExporter
	replica := func() func() {
		spans := tracetest.NewInMemoryExporter()
		exporters = append(exporters, spans)
		return s.StartBridgeWith(opts, bridge.ManagerOptions{
			MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(pollInterval),
			LeaderElection: true, LeaderElectionID: "eso-bridge-soak", LeaderElectionNamespace: s.NS,
			Tracing: tracing.Options{Exporter: spans, Synchronous: true},
		})
	}
	replicas := []func(){replica(), replica()}
	for _, w := range workloads {
		s.WaitAdopted(w.object)
	}
	time.Sleep(3 * pollInterval) // the provider adopts the versions it sees first

	random := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	kills := 0
	for rotation := 1; rotation <= *soakRotations; rotation++ {
		// Each rotation's waits are bounded on their own, as one test's are:
		// a long soak is not one wait that runs out part-way.
		s.Ctx = harness.Context(t)
		// A random non-empty set of sources rotates together.
		var rotated []string
		for len(rotated) == 0 {
			for _, name := range sources {
				if random.IntN(2) == 1 {
					rotated = append(rotated, name)
				}
			}
		}
		for _, name := range rotated {
			if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey(name), canary()); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range workloads {
			if slices.ContainsFunc(w.sources, func(source string) bool { return slices.Contains(rotated, source) }) {
				w.want++
			}
		}
		// In every rotation but the first, one replica, either of the two, is
		// killed at a random moment of it — before detection, at the gate, or
		// mid-rollout — and a new one started; the lease moves when the
		// leader goes.
		if rotation > 1 {
			time.Sleep(time.Duration(random.IntN(4000)) * time.Millisecond)
			victim := random.IntN(len(replicas))
			replicas[victim]()
			replicas[victim] = replica()
			kills++
		}
		for _, w := range workloads {
			s.WaitFor(fmt.Sprintf("rotation %d (%v): %s rolled %d time(s)", rotation, rotated, w.name, w.want), func() (bool, string) {
				got := s.Restarts(w.object)
				return got >= w.want, fmt.Sprintf("%d restart(s)", got)
			})
		}
		time.Sleep(harness.SettleMargin)
		for _, w := range workloads {
			if got := s.Restarts(w.object); got != w.want {
				t.Fatalf("rotation %d (%v): %s rolled %d time(s), want %d", rotation, rotated, w.name, got, w.want)
			}
		}
		// db's second wave went after its first had rolled out, kills or not.
		if slices.Contains(rotated, "db") {
			result, _ := annotations.ParseRolloutResult(s.Get(orders.object).GetAnnotations()[annotations.AnnotationRolloutResult])
			restarted := annotations.Time(harness.PodTemplate(t, s.Get(checkout.object)).Annotations, annotations.AnnotationRestartedAt)
			if restarted == nil || result.FinishedAt.IsZero() || restarted.Before(result.FinishedAt) {
				t.Fatalf("rotation %d (%v): checkout (wave 2) restarted at %v, before orders (wave 1) rolled out (%+v)", rotation, rotated, restarted, result)
			}
		}
		t.Logf("rotation %d: %v rotated; restarts so far %s; replicas killed so far %d", rotation, rotated, restartCounts(workloads), kills)
	}

	// Every workload's last restart has its complete trace: its rollout and
	// its rotation's root, from whichever replica closed it. A workload none
	// of whose sources the random sets drew has no restart to trace.
	for _, w := range workloads {
		if w.want == 0 {
			continue
		}
		s.WaitFor("the trace of "+w.name+"'s last restart", func() (bool, string) {
			tid := traceIDOf(s, w.object)
			var names []string
			for _, e := range exporters {
				for _, span := range e.GetSpans() {
					if span.SpanContext.TraceID().String() == tid {
						names = append(names, span.Name)
					}
				}
			}
			loader := rotation.Loader{Client: s.CP.ControllerClient, Pods: s.CP.ControllerClient, Kinds: workload.Builtin()}
			rotation, err := loader.ForWorkload(s.Ctx, workload.Builtin()[0], client.ObjectKeyFromObject(w.object))
			state := fmt.Sprint(err)
			if err == nil {
				data, _ := json.Marshal(rotation)
				state = fmt.Sprintf("finished %v: %s", rotation.Finished(), data)
			}
			return slices.Contains(names, "secret.rotation") && slices.Contains(names, "workload.rollout"), fmt.Sprintf("trace %s: %v; in the cluster: %s", tid, names, state)
		})
	}
	var expected, seen int64
	for _, w := range workloads {
		expected += w.want
		seen += s.Restarts(w.object)
	}
	t.Logf("soak: %d rotations, %d replicas killed, restarts expected %d, seen %d", *soakRotations, kills, expected, seen)

	// The leak scan: the canary values and the data hashes ESO wrote.
	secrets := map[string]bool{}
	for v := range values {
		secrets[v] = true
	}
	for _, name := range sources {
		secrets[dataHash(s, name)] = true
	}
	var allSpans tracetest.SpanStubs
	for _, e := range exporters {
		allSpans = append(allSpans, e.GetSpans()...)
	}
	spansJSON, err := json.Marshal(allSpans)
	if err != nil {
		t.Fatal(err)
	}
	// What eso-bridge writes on workloads is read by anyone with the view
	// role, who cannot read Secrets.
	var workloadAnnotations []map[string]string
	for _, w := range workloads {
		obj := s.Get(w.object).(*appsv1.Deployment)
		workloadAnnotations = append(workloadAnnotations, obj.Annotations, obj.Spec.Template.Annotations)
	}
	annotationsJSON, err := json.Marshal(workloadAnnotations)
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]string{
		"spans": string(spansJSON), "Events": harness.EventsText(s.Ctx, s.Client, s.NS),
		"log": harness.BridgeLog(t, s), "metrics": harness.MetricsText(t),
		"workload annotations": string(annotationsJSON),
	}
	for where, text := range exported {
		for secret := range secrets {
			if secret != "" && strings.Contains(text, secret) {
				t.Errorf("the %s hold %q, a secret value or data hash", where, secret)
			}
		}
	}
}

func restartCounts(workloads []*soakWorkload) string {
	var parts []string
	for _, w := range workloads {
		parts = append(parts, fmt.Sprintf("%s=%d", w.name, w.want))
	}
	return strings.Join(parts, " ")
}

// traceIDOf is the trace ID of the Deployment's last restart.
func traceIDOf(s *harness.Scenario, w client.Object) string {
	value := s.Get(w).(*appsv1.Deployment).Spec.Template.Annotations[annotations.AnnotationTraceparent]
	parts := strings.Split(value, "-")
	if len(parts) != 4 {
		return "(none: " + value + ")"
	}
	return parts[1]
}

func dataHash(s *harness.Scenario, name string) string {
	var secret corev1.Secret
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: name}, &secret); err != nil {
		s.T.Fatal(err)
	}
	return secret.Annotations[eso.DataHashAnnotation]
}
