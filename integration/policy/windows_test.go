package policy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// everyDay is a restart window, every day from start for length, in UTC,
// to the second.
func everyDay(start time.Time, length time.Duration) string {
	return fmt.Sprintf("* %s-%s UTC", start.UTC().Format("15:04:05"), start.Add(length).UTC().Format("15:04:05"))
}

// restartWindow is a workload's or an ExternalSecret's annotation.
func restartWindow(spec string) map[string]string {
	return map[string]string{annotations.AnnotationRestartWindow: spec}
}

// A rotation outside a restart window: the workload with its own window
// waits — `explain` and `trace` say until when — and restarts once when
// it opens, a few seconds later. The controller's --restart-window,
// closed for the next hour, keeps back the consumer without a window of
// its own; an ExternalSecret's window, open now, lets its consumer go.
func TestARestartOutsideItsWindowWaitsForItAndHappensOnce(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	s.ExternalSecret("cache", "v1", map[string]string{annotations.AnnotationRollout: "auto",
		annotations.AnnotationRestartWindow: "* 00:00-24:00 UTC"})
	opens := time.Now().Add(25 * time.Second)
	own := s.Workload(harness.WorkloadKinds[0], "own", restartWindow(everyDay(opens, time.Hour)), "db")
	flagged := s.Workload(harness.WorkloadKinds[1], "flagged", nil, "db")
	open := s.Workload(harness.WorkloadKinds[0], "open", nil, "cache")
	opts := harness.TestOptions()
	closedForAnHour := everyDay(time.Now().Add(time.Hour), time.Hour)
	opts.RestartWindow = closedForAnHour
	s.StartBridge(opts)
	for _, w := range []client.Object{own, flagged, open} {
		s.WaitAdopted(w)
	}

	s.Rotate("db", "cache")
	if message := s.WaitEvent(restart.ReasonOutsideWindow, "own"); !strings.Contains(message, "the workload's "+annotations.AnnotationRestartWindow) {
		t.Errorf("the %s Event about own says %q, want its own annotation named", restart.ReasonOutsideWindow, message)
	}
	if message := s.WaitEvent(restart.ReasonOutsideWindow, "flagged"); !strings.Contains(message, "--restart-window") {
		t.Errorf("the %s Event about flagged says %q, want the flag named", restart.ReasonOutsideWindow, message)
	}
	s.ExpectRestarts(open, 1)
	if time.Now().After(opens) {
		t.Fatalf("the rotation took until the window opened (%s): the test cannot tell a wait from no wait", opens.Format(time.RFC3339))
	}
	if n := s.Restarts(own); n != 0 {
		t.Fatalf("own was restarted %d time(s) before its window opened", n)
	}
	var waiting app.WorkloadExplanation
	s.Explain(&waiting, "deployment/own", "-o", "json", "--settle", "0s")
	if d := waiting.Decision; d.Verdict != "wait" || d.Reason != restart.ReasonOutsideWindow || d.Until == nil || d.Until.Sub(opens).Abs() > time.Second {
		t.Errorf("eso-bridge explain deployment/own decides %+v, want a wait for its window until %s", d, opens.Format(time.RFC3339))
	}
	if timeline := s.Trace(nil, "db", "--restart-window", closedForAnHour); !strings.Contains(timeline, "deployment/own: outside its restart window") ||
		!strings.Contains(timeline, "statefulset/flagged: outside its restart window") {
		t.Errorf("eso-bridge trace db does not say which restarts wait for their window:\n%s", timeline)
	}

	s.ExpectRestarts(own, 1)
	if at := restartedAt(s, own); at.Before(opens.Truncate(time.Second)) {
		t.Errorf("own was restarted at %s, before its window opened at %s", at.Format(time.RFC3339Nano), opens.Format(time.RFC3339))
	}
	s.ExpectNoMoreRestartsThan(flagged, 0)
}

// Bad restart windows — one that never opens on an ExternalSecret, one
// that does not read on a workload, two ExternalSecrets' windows that never
// meet — get a Warning each, and the default (the flag, always here)
// applies: every consumer restarts once, at once.
func TestBadRestartWindowsWarnAndTheDefaultApplies(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto",
		annotations.AnnotationRestartWindow: "Mon-Fri 09:00-09:00 Europe/Paris"})
	s.ExternalSecret("mornings", "v1", map[string]string{annotations.AnnotationRollout: "auto",
		annotations.AnnotationRestartWindow: "* 00:00-12:00 UTC"})
	s.ExternalSecret("evenings", "v1", map[string]string{annotations.AnnotationRollout: "auto",
		annotations.AnnotationRestartWindow: "* 12:00-24:00 UTC"})
	odd := s.Workload(harness.WorkloadKinds[0], "odd", restartWindow("weekdays 09:00-17:00"), "db")
	both := s.Workload(harness.WorkloadKinds[1], "both", nil, "mornings", "evenings")
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(odd)
	s.WaitAdopted(both)
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "db", "never opens")

	s.Rotate("db", "mornings", "evenings")
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "odd", `"weekdays" is not a day`)
	s.WaitEventSaying(events.ReasonInvalidAnnotation, "both", "never open at the same time")
	s.ExpectRestarts(odd, 1)
	s.ExpectRestarts(both, 1)
}
