package policy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/waves"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// wavesOf are an ExternalSecret's annotations: restarted automatically, in
// the waves of mode.
func wavesOf(mode annotations.WaveMode) map[string]string {
	return map[string]string{annotations.AnnotationRollout: "auto", annotations.AnnotationWaves: string(mode)}
}

// inWave is a workload's annotation putting it in wave n.
func inWave(n int) map[string]string {
	return map[string]string{annotations.AnnotationWave: fmt.Sprint(n)}
}

// restartedAt is when eso-bridge last patched w's pod template.
func restartedAt(s *harness.Scenario, w client.Object) time.Time {
	s.T.Helper()
	at := annotations.Time(harness.PodTemplate(s.T, s.Get(w)).Annotations, annotations.AnnotationRestartedAt)
	if at == nil {
		s.T.Fatalf("%s has no %s", w.GetName(), annotations.AnnotationRestartedAt)
	}
	return *at
}

// rolledOutAt is when eso-bridge saw w's last rollout complete.
func rolledOutAt(s *harness.Scenario, w client.Object) time.Time {
	s.T.Helper()
	result, ok := annotations.ParseRolloutResult(s.Get(w).GetAnnotations()[annotations.AnnotationRolloutResult])
	if !ok || result.Outcome != events.ReasonRolloutComplete {
		s.T.Fatalf("%s has no completed rollout recorded: %+v", w.GetName(), result)
	}
	return result.FinishedAt
}

// expectAfter fails unless each of later was restarted after first's
// rollout completed.
func expectAfter(s *harness.Scenario, first client.Object, later ...client.Object) {
	s.T.Helper()
	done := rolledOutAt(s, first)
	for _, w := range later {
		if at := restartedAt(s, w); at.Before(done) {
			s.T.Errorf("%s was restarted at %s, before the rollout of %s completed at %s", w.GetName(), at.Format(time.RFC3339Nano), first.GetName(), done.Format(time.RFC3339Nano))
		}
	}
}

// Three workloads of three kinds in three waves (1, 2, and unnumbered
// last), all healthy: each wave is restarted only after the one before has
// rolled out to Ready pods, each workload once, and the rotation is one
// trace that closes after the last wave.
func TestWavesRestartEachWaveOnceAfterTheOneBeforeRolledOut(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", wavesOf(annotations.WavesOrdered))
	first := s.Workload(harness.WorkloadKinds[0], "first", inWave(1), "db")
	second := s.Workload(harness.WorkloadKinds[1], "second", inWave(2), "db")
	unnumbered := s.Workload(harness.WorkloadKinds[2], "unnumbered", nil, "db")
	spans := tracetest.NewInMemoryExporter()
	s.StartBridgeWith(harness.TestOptions(), harness.WithSpans(spans))
	for _, w := range []client.Object{first, second, unnumbered} {
		s.WaitAdopted(w)
	}

	s.Rotate("db")
	for _, w := range []client.Object{first, second, unnumbered} {
		s.ExpectRestarts(w, 1)
	}
	s.WaitEvent(events.ReasonRolloutComplete, "second")
	expectAfter(s, first, second)
	expectAfter(s, second, unnumbered)
	// One trace, closed after the last wave, not after the first.
	var root tracetest.SpanStub
	rollouts := 0
	s.WaitFor("the rotation's spans", func() (bool, string) {
		rollouts = 0
		for _, span := range spans.GetSpans() {
			switch span.Name {
			case "secret.rotation":
				root = span
			case "workload.rollout":
				rollouts++
			}
		}
		return root.Name != "" && rollouts == 3, fmt.Sprintf("%d rollout span(s)", rollouts)
	})
	if last := restartedAt(s, unnumbered); root.EndTime.Before(last) {
		t.Errorf("the rotation's span ended at %s, before its last wave was restarted at %s", root.EndTime, last)
	}
}

// A rotation whose canary never becomes Ready holds the rest: a Warning on
// each held workload and on the ExternalSecret, the metric, and `eso-bridge
// explain` say why, and the held workloads keep their pods. A later rotation
// — the fix — restarts the canary first and then the rest, each once.
func TestAStalledWaveHoldsTheRestUntilTheNextRotation(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", wavesOf(annotations.WavesCanary))
	canary := s.Workload(harness.WorkloadKinds[0], "canary", inWave(0), "db")
	rest := []client.Object{s.Workload(harness.WorkloadKinds[0], "api", nil, "db"), s.Workload(harness.WorkloadKinds[1], "worker", nil, "db")}
	stall, heal := s.Stallable(canary)
	base := s.Restarts(canary)
	spans := tracetest.NewInMemoryExporter()
	s.StartBridgeWith(harness.TestOptions(), harness.WithSpans(spans))
	for _, w := range append([]client.Object{canary}, rest...) {
		s.WaitAdopted(w)
	}
	halted := harness.Counter(t, "eso_bridge_holds_total", map[string]string{"reason": waves.ReasonHalted})

	stall()
	s.Rotate("db")
	s.WaitEvent(events.ReasonRolloutStalled, "canary")
	for _, w := range rest {
		if message := s.WaitEvent(waves.ReasonHalted, w.GetName()); !strings.Contains(message, "deployment/canary") || !strings.Contains(message, annotations.AnnotationResume) {
			t.Errorf("the %s Warning about %s says %q, want the stalled canary and how to resume named", waves.ReasonHalted, w.GetName(), message)
		}
	}
	traceID := traceparent.Parse(harness.PodTemplate(t, s.Get(canary)).Annotations[annotations.AnnotationTraceparent]).TraceID().String()
	if message := s.WaitEvent(waves.ReasonHalted, "db"); !strings.Contains(message, traceID) || !strings.Contains(message, "wave 1 of 2") {
		t.Errorf("the %s Warning about the ExternalSecret says %q, want the rotation's trace %s and the wave it stopped after", waves.ReasonHalted, message, traceID)
	}
	if got := harness.Counter(t, "eso_bridge_holds_total", map[string]string{"reason": waves.ReasonHalted}); got <= halted {
		t.Errorf("eso_bridge_holds_total{reason=%q} = %v, want more than %v", waves.ReasonHalted, got, halted)
	}
	for _, w := range rest {
		s.ExpectNoMoreRestartsThan(w, 0)
	}
	var held app.WorkloadExplanation
	s.Explain(&held, "deployment/api", "-o", "json")
	if d := held.Decision; d.Verdict != "hold" || d.Reason != waves.ReasonHalted || !strings.Contains(d.Message, traceID) {
		t.Errorf("eso-bridge explain deployment/api decides %+v, want hold, %s, naming the trace to resume", d, waves.ReasonHalted)
	}

	// The trace says what ran, what failed and what is held.
	var root tracetest.SpanStub
	s.WaitFor("the failed rotation's root span", func() (bool, string) {
		for _, span := range spans.GetSpans() {
			if span.Name == "secret.rotation" && span.SpanContext.TraceID().String() == traceID {
				root = span
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d spans", len(spans.GetSpans()))
	})
	if root.Status.Code != otelcodes.Error || !strings.Contains(root.Status.Description, "deployment/canary") {
		t.Errorf("the rotation's span has status %+v, want an error naming the stalled canary", root.Status)
	}
	timeline := s.Trace(nil, "db")
	for _, want := range [][]string{{"rollout stalled", "deployment/canary"}, {"Failed: wave 2 of 2 held"}, {"Held, keeping their pods: deployment/api, statefulset/worker"}} {
		if !slices.ContainsFunc(strings.Split(timeline, "\n"), func(line string) bool {
			return !slices.ContainsFunc(want, func(part string) bool { return !strings.Contains(line, part) })
		}) {
			t.Errorf("eso-bridge trace has no line with %q:\n%s", want, timeline)
		}
	}

	heal()
	s.Rotate("db")
	s.ExpectRestarts(canary, base+2)
	for _, w := range rest {
		s.ExpectRestarts(w, 1)
	}
	s.WaitEvent(events.ReasonRolloutComplete, "canary")
	expectAfter(s, canary, rest...)
}

// A hold is released by hand with the rotation's trace ID in the resume
// annotation: the held waves go on, once, and the stalled workload is not
// restarted again.
func TestAResumeReleasesAHeldRotation(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", wavesOf(annotations.WavesOrdered))
	canary := s.Workload(harness.WorkloadKinds[0], "canary", inWave(1), "db")
	api := s.Workload(harness.WorkloadKinds[0], "api", inWave(2), "db")
	stall, heal := s.Stallable(canary)
	base := s.Restarts(canary)
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(canary)
	s.WaitAdopted(api)

	stall()
	s.Rotate("db")
	s.WaitEvent(waves.ReasonHalted, "api")
	heal() // the stalled rollout ends by itself; the hold stays
	s.ExpectNoMoreRestartsThan(api, 0)

	traceID := traceparent.Parse(harness.PodTemplate(t, s.Get(canary)).Annotations[annotations.AnnotationTraceparent]).TraceID().String()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, annotations.AnnotationResume, traceID)
	if err := s.Client.Patch(s.Ctx, es, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.ExpectNoMoreRestartsThan(canary, base+1)
}

// The controller stopped between two waves: the first wave's rollout ends
// while nobody watches; the second wave runs once, after it.
func TestAControllerStoppedBetweenWavesRunsTheNextOnceAfterTheFirst(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", wavesOf(annotations.WavesOrdered))
	first := s.Workload(harness.WorkloadKinds[0], "first", inWave(1), "db")
	second := s.Workload(harness.WorkloadKinds[0], "second", inWave(2), "db")
	// The simulated pods are Ready in milliseconds: held, the first wave's
	// rollout cannot end before the controller is stopped.
	// Its template changes (a revision more, base).
	hold, release := s.Stallable(first)
	base := s.Restarts(first)
	stop := s.StartBridge(harness.TestOptions())
	s.WaitAdopted(first)
	s.WaitAdopted(second)

	hold()
	s.Rotate("db")
	s.WaitFor("the first wave restarted", func() (bool, string) {
		n := s.Restarts(first) - base
		return n == 1, fmt.Sprintf("%d restart(s)", n)
	})
	stop()
	release()
	if err := controlplane.WaitForRollout(s.Ctx, s.Client, first); err != nil {
		t.Fatal(err)
	}
	if n := s.Restarts(second); n != 0 {
		t.Fatalf("the second wave was restarted %d time(s) before the first rolled out", n)
	}
	// Nobody has recorded the first wave's rollout yet: the second waits.
	var waiting app.WorkloadExplanation
	s.Explain(&waiting, "deployment/second", "-o", "json", "--settle", "0s")
	if d := waiting.Decision; d.Verdict != "wait" || d.Reason != waves.ReasonWaiting || !strings.Contains(d.Message, "deployment/first") {
		t.Errorf("eso-bridge explain deployment/second decides %+v, want a wait for deployment/first", d)
	}

	s.StartBridge(harness.TestOptions())
	s.ExpectRestarts(second, 1)
	s.ExpectRestarts(first, base+1)
	expectAfter(s, first, second)
}

// Bad wave annotations get a Warning each, and the default policy (the
// --waves flag, off here) applies: every consumer restarts once, at once.
func TestBadWaveAnnotationsWarnAndTheDefaultApplies(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto", annotations.AnnotationWaves: "sideways",
		annotations.AnnotationResume: "true"})
	odd := s.Workload(harness.WorkloadKinds[0], "odd", map[string]string{annotations.AnnotationWave: "first"}, "db")
	other := s.Workload(harness.WorkloadKinds[1], "other", inWave(7), "db")
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(odd)
	s.WaitAdopted(other)
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "db", `"sideways" is not one of`)
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "db", `"true" is not a trace ID`)

	s.Rotate("db")
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "odd", `"first" is not a whole number`)
	s.ExpectRestarts(odd, 1)
	s.ExpectRestarts(other, 1)
}
