package bench_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// controllerAgent begins the user agent of the release binary's requests:
// client-go names them after the executable, which the benchmarks call
// eso-bridge.
const controllerAgent = "eso-bridge/"

// auditedChange is one timed change as the audit log is searched for it:
// the member and when the benchmark began writing it.
type auditedChange struct {
	name    string
	written time.Time
}

// auditedReactions reads the control plane's audit log and returns each
// change's reaction by the API server's clock (see reactionsAtServer). The
// API server logs a request once it has answered it, so a watch can see the
// last patch before the log holds it: the log is read again until it holds
// every change's, for a few seconds at most.
func auditedReactions(b *testing.B, namespace string, changes []auditedChange) []time.Duration {
	b.Helper()
	deadline := time.Now().Add(auditLogLag)
	for {
		events, err := harness.ControlPlane(b).AuditEvents()
		if err != nil {
			b.Fatal(err)
		}
		reactions, err := reactionsAtServer(events, namespace, changes)
		if err == nil {
			return reactions
		}
		if time.Now().After(deadline) {
			b.Fatalf("%v (the log read again for %s)", err, auditLogLag)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// auditLogLag bounds how long a request answered may take to reach the
// audit log.
const auditLogLag = 5 * time.Second

// reactionsAtServer returns, for each change, the controller's reaction by
// the API server's own clock: from the answer to ESO's status write of the
// member's ExternalSecret (the write that confirms the Secret) to the
// arrival of the controller's first successful patch of its Deployment.
// Neither the benchmark's watch nor the patch's own processing is in it:
// what is left is the controller's watch delivery, its decision and its
// request on the way in.
func reactionsAtServer(events []controlplane.AuditEvent, namespace string, changes []auditedChange) ([]time.Duration, error) {
	reactions := make([]time.Duration, 0, len(changes))
	for _, ch := range changes {
		status := firstEvent(events, ch.written, func(e controlplane.AuditEvent) bool {
			return e.ObjectRef.Resource == "externalsecrets" && e.ObjectRef.Subresource == "status" &&
				e.ObjectRef.Namespace == namespace && e.ObjectRef.Name == ch.name && e.ResponseStatus.Code < 300
		})
		if status == nil {
			return nil, fmt.Errorf("the audit log has no status write of ExternalSecret %s/%s after %s", namespace, ch.name, ch.written.Format(time.RFC3339Nano))
		}
		patch := firstEvent(events, status.Received, func(e controlplane.AuditEvent) bool {
			return e.ObjectRef.Resource == "deployments" && e.ObjectRef.Subresource == "" && e.Verb == "patch" &&
				e.ObjectRef.Namespace == namespace && e.ObjectRef.Name == ch.name && e.ResponseStatus.Code < 300 &&
				strings.HasPrefix(e.UserAgent, controllerAgent)
		})
		if patch == nil {
			return nil, fmt.Errorf("the audit log has no patch of Deployment %s/%s by the controller after its status write", namespace, ch.name)
		}
		reactions = append(reactions, patch.Received.Sub(status.Answered))
	}
	return reactions, nil
}

// firstEvent is the event matching that reached the API server first at or
// after since; nil when none does.
func firstEvent(events []controlplane.AuditEvent, since time.Time, matching func(controlplane.AuditEvent) bool) *controlplane.AuditEvent {
	var first *controlplane.AuditEvent
	for i := range events {
		e := &events[i]
		if e.Received.Before(since) || !matching(*e) {
			continue
		}
		if first == nil || e.Received.Before(first.Received) {
			first = e
		}
	}
	return first
}

func TestReactionsAtServerTimeTheControllersPatchFromTheConfirmingStatusWrite(t *testing.T) {
	at := func(ms int) time.Time {
		return time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	}
	event := func(resource, subresource, verb, agent, name string, code, received, answered int) controlplane.AuditEvent {
		var e controlplane.AuditEvent
		e.ObjectRef.Resource, e.ObjectRef.Subresource, e.ObjectRef.Namespace, e.ObjectRef.Name = resource, subresource, "fleet", name
		e.Verb, e.UserAgent, e.ResponseStatus.Code, e.Received, e.Answered = verb, agent, code, at(received), at(answered)
		return e
	}
	const bench, controller = "bench.test/v0.0.0", "eso-bridge/v0.0.0 (linux/amd64) kubernetes/$Format"
	events := []controlplane.AuditEvent{
		// An earlier rotation of app-1, before this change was written.
		event("externalsecrets", "status", "update", bench, "app-1", 200, 10, 12),
		event("deployments", "", "patch", controller, "app-1", 200, 14, 16),
		// This change: a status write that lost a conflict, then the one that counts.
		event("externalsecrets", "status", "update", bench, "app-1", 409, 100, 101),
		event("externalsecrets", "status", "update", bench, "app-1", 200, 102, 105),
		// The benchmark's own probe, another member's patch, a lost patch, then the restart.
		event("deployments", "", "patch", bench, "app-1", 200, 106, 107),
		event("deployments", "", "patch", controller, "app-2", 200, 106, 108),
		event("deployments", "", "patch", controller, "app-1", 409, 107, 108),
		event("deployments", "", "patch", controller, "app-1", 200, 108, 110),
	}
	got, err := reactionsAtServer(events, "fleet", []auditedChange{{name: "app-1", written: at(90)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{3 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("reactions = %v, want %v (status answered at 105 ms, the controller's patch received at 108)", got, want)
	}

	if _, err := reactionsAtServer(events, "fleet", []auditedChange{{name: "app-1", written: at(200)}}); err == nil || !strings.Contains(err.Error(), "no status write of ExternalSecret fleet/app-1") {
		t.Errorf("a change the log has no status write of: err = %v", err)
	}
	if _, err := reactionsAtServer(events[:6], "fleet", []auditedChange{{name: "app-1", written: at(90)}}); err == nil || !strings.Contains(err.Error(), "no patch of Deployment fleet/app-1 by the controller") {
		t.Errorf("a change the controller did not patch: err = %v", err)
	}
}
