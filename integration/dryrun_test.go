package integration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// A dry run beside another tool: it decides as the controller does — a
// workload that would restart, one that waits for ESO, one held by a sync
// error, one up to date, one that is no consumer — logs, counts and tells
// it in Events, and writes nothing to a workload or an ExternalSecret.
func TestADryRunDecidesAsUsualAndPatchesNothing(t *testing.T) {
	s := harness.NewScenario(t)
	db := s.ExternalSecret("db", "v1", rolloutAuto)
	s.ExternalSecret("broken", "v1", rolloutAuto)
	s.ExternalSecret("calm", "v1", rolloutAuto)
	plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: "plain"}, StringData: map[string]string{"k": "v"}}
	if err := s.Client.Create(s.Ctx, plain); err != nil {
		t.Fatal(err)
	}
	kind := harness.WorkloadKinds[0]
	consumer := s.Workload(kind, "consumer", nil, "db")
	held := s.Workload(kind, "held", nil, "broken")
	steady := s.Workload(kind, "steady", nil, "calm")
	bystander := s.Workload(kind, "bystander", workloadOn, "plain")
	opts := harness.TestOptions()
	opts.DryRun = true
	s.StartBridgeWith(opts, bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(time.Second)})
	s.WaitFor("the dry run to adopt the three consumers", func() (bool, string) {
		adopted := dryRunLines(t, s, "adopted (dry run")
		return len(adopted) >= 3, fmt.Sprintf("%d adoption(s) logged", len(adopted))
	})
	time.Sleep(2 * time.Second) // the AWS provider's first sweep adopts the current versions
	dryRunsBefore := harness.Counter(t, "eso_bridge_restarts_total", map[string]string{"kind": kind.Name, "result": restart.ResultDryRun})

	// The vault moves: a real run would trigger ESO; a dry run says it
	// would, writes nothing, and so waits for ESO's own refresh.
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.WaitFor("the dry run to log the trigger it would write", func() (bool, string) {
		lines := dryRunLines(t, s, "would trigger ESO refresh")
		return len(lines) == 1, fmt.Sprintf("%d line(s): %s", len(lines), strings.Join(lines, "\n"))
	})
	if got := s.Get(db).GetAnnotations(); got[annotations.AnnotationVaultVersions] != "" || got[annotations.AnnotationTraceparent] != "" {
		t.Errorf("a dry run wrote a trigger on the ExternalSecret: %v", got)
	}
	time.Sleep(harness.SettleMargin)
	if n := countEvents(s, events.ReasonWouldRestart, "consumer"); n != 0 {
		t.Errorf("%d WouldRestart Events before ESO wrote the new value, want 0: the dry run did not wait for ESO", n)
	}

	// ESO refreshes on its own (here: by hand) and writes the new value.
	s.Refresh("db")
	if msg := s.WaitEvent(events.ReasonWouldRestart, "consumer"); !strings.Contains(msg, "dry run") || !strings.Contains(msg, "db") {
		t.Errorf("the WouldRestart Event says %q; want it to say dry run and name the ExternalSecret", msg)
	}
	// A sync error holds, as in a real run.
	if err := s.CP.SecretsManager.DeleteSecret(s.Ctx, s.RemoteKey("broken")); err != nil {
		t.Fatal(err)
	}
	touch(s, "broken")
	s.WaitEvent(gate.ReasonSyncError, "held")
	time.Sleep(harness.SettleMargin)

	if n := countEvents(s, events.ReasonWouldRestart, "consumer"); n != 1 {
		t.Errorf("%d WouldRestart Events for one rotation, want 1", n)
	}
	if got := harness.Counter(t, "eso_bridge_restarts_total", map[string]string{"kind": kind.Name, "result": restart.ResultDryRun}) - dryRunsBefore; got != 1 {
		t.Errorf("eso_bridge_restarts_total{result=dry-run} rose by %v, want 1", got)
	}
	for name, want := range map[string]int{"consumer": 1, "held": 0, "steady": 0, "bystander": 0} {
		if n := countEvents(s, events.ReasonWouldRestart, name); n != want {
			t.Errorf("%s: %d WouldRestart Events, want %d", name, n, want)
		}
	}
	for _, obj := range []client.Object{consumer, held, steady, bystander} {
		if got := s.Restarts(obj); got != 0 {
			t.Errorf("a dry run restarted %s %d time(s)", obj.GetName(), got)
		}
		current := s.Get(obj)
		for _, key := range []string{annotations.AnnotationSourceHash, annotations.AnnotationSourceDigests, annotations.AnnotationDigestKey} {
			if value, ok := current.GetAnnotations()[key]; ok {
				t.Errorf("a dry run recorded %s=%q on %s", key, value, obj.GetName())
			}
		}
		for key := range harness.PodTemplate(t, current).Annotations {
			if strings.HasPrefix(key, "eso-bridge.io/") {
				t.Errorf("a dry run wrote %s on the pod template of %s", key, obj.GetName())
			}
		}
	}

	// A workload deleted and made again with its name is new to the dry
	// run too: adopted, not compared with what the dry run recorded of the
	// one before it.
	adoptions := func() int { return len(linesNaming(dryRunLines(t, s, "adopted (dry run"), consumer.GetName())) }
	before := adoptions()
	if err := s.Client.Delete(s.Ctx, consumer); err != nil {
		t.Fatal(err)
	}
	// Its pods go too (the garbage collector's work): the one made again
	// would otherwise be judged by pods started before ESO's last write.
	s.WaitFor("the consumer and its pods to be gone", func() (bool, string) {
		err := s.Client.Get(s.Ctx, client.ObjectKeyFromObject(consumer), consumer.DeepCopyObject().(client.Object))
		var pods corev1.PodList
		if err := s.Client.List(s.Ctx, &pods, client.InNamespace(s.NS)); err != nil {
			return false, err.Error()
		}
		left := 0
		for _, pod := range pods.Items {
			if strings.HasPrefix(pod.Name, consumer.GetName()+"-") {
				left++
			}
		}
		return apierrors.IsNotFound(err) && left == 0, fmt.Sprintf("reading it: %v; %d pod(s) of it left", err, left)
	})
	s.Workload(kind, consumer.GetName(), nil, "db")
	s.WaitFor("the dry run to adopt the consumer made again", func() (bool, string) {
		n := adoptions()
		return n > before, fmt.Sprintf("%d adoption(s) of it logged, as before it was made again", n)
	})
}

// linesNaming are those of lines that name the object called name.
func linesNaming(lines []string, name string) []string {
	var out []string
	for _, line := range lines {
		if strings.Contains(line, `"`+name+`"`) {
			out = append(out, line)
		}
	}
	return out
}

// dryRunLines are the controller's log lines about the test's namespace
// that contain text.
func dryRunLines(t *testing.T, s *harness.Scenario, text string) []string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(harness.BridgeLog(t, s), "\n") {
		if strings.Contains(line, text) && strings.Contains(line, s.NS) {
			lines = append(lines, line)
		}
	}
	return lines
}
