package integration_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// `eso-bridge explain` answers "why did (or didn't) it restart?" from
// cluster state alone, with the controller's own gate: for a workload that
// restarted, one that waits, one held by a sync error, one up to date and
// one that is not a consumer; and for an ExternalSecret, which workloads it
// restarts and which it does not.
func TestExplainSaysWhyAWorkloadRestartsWaitsOrIsHeld(t *testing.T) {
	s := harness.NewScenario(t)
	for _, name := range []string{"a", "b", "c", "d"} {
		s.ExternalSecret(name, "v1", rolloutAuto)
	}
	s.ExternalSecret("e", "v1", nil) // its Secret is used, nothing opts it in
	plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: "plain"}, StringData: map[string]string{"k": "v"}}
	if err := s.Client.Create(s.Ctx, plain); err != nil {
		t.Fatal(err)
	}
	kind := harness.WorkloadKinds[0]
	restarted := s.Workload(kind, "restarted", nil, "a")
	waiting := s.Workload(kind, "waiting", nil, "b")
	held := s.Workload(kind, "held", nil, "c")
	steady := s.Workload(kind, "steady", nil, "d", "e")
	s.Workload(kind, "bystander", workloadOn, "plain")
	stop := s.StartBridge(harness.TestOptions())
	s.WaitAdopted(restarted)
	s.WaitAdopted(waiting)
	s.WaitAdopted(held)
	s.WaitAdopted(steady)
	s.Rotate("a")
	s.ExpectRestarts(restarted, 1)
	if err := s.CP.SecretsManager.DeleteSecret(s.Ctx, s.RemoteKey("c")); err != nil {
		t.Fatal(err)
	}
	touch(s, "c")
	s.WaitEvent(gate.ReasonSyncError, "held")
	// The controller stops; ESO writes b's rotation meanwhile.
	stop()
	s.Rotate("b")

	var x app.WorkloadExplanation
	s.Explain(&x, "-o", "json", "deployment/restarted")
	if x.Decision.Verdict != "up to date" || x.LastRestart == nil || len(x.Sources) != 1 || x.Sources[0].Recorded != "current" ||
		!strings.Contains(x.Sources[0].Why, "rollout: auto") || !x.Sources[0].Ready {
		t.Errorf("restarted: %+v, want up to date, restarted once, source a recorded as current, opted in by its rollout: auto", x)
	}

	x = app.WorkloadExplanation{}
	s.Explain(&x, "-o", "json", "--settle=1h", "deployment/waiting")
	if x.Decision.Verdict != "wait" || x.Decision.Reason != gate.ReasonSettling || x.Decision.Since == nil || x.Sources[0].Recorded != "changed since recorded" {
		t.Errorf("waiting, with a settle window of an hour: %+v, want wait (Settling) since b's write, b changed since recorded", x)
	}
	// Past the settle window, counted from the end of the second the API
	// server recorded b's write in.
	time.Sleep(harness.TestOptions().Settle + time.Second)
	x = app.WorkloadExplanation{}
	s.Explain(&x, "-o", "json", "--settle=1s", "deployment/waiting")
	if x.Decision.Verdict != "restart" {
		t.Errorf("waiting, past the settle window with the controller down: %+v, want restart", x.Decision)
	}

	x = app.WorkloadExplanation{}
	s.Explain(&x, "-o", "json", "deployment/held")
	if x.Decision.Verdict != "hold" || x.Decision.Reason != gate.ReasonSyncError || x.Decision.Blocking != "c" || x.Sources[0].Ready {
		t.Errorf("held: %+v, want hold (SyncError) by c, not Ready", x)
	}

	x = app.WorkloadExplanation{}
	s.Explain(&x, "-o", "json", "deployment/steady")
	if x.Decision.Verdict != "up to date" || len(x.NotSources) != 1 || x.NotSources[0].Name != "e" || !strings.Contains(x.NotSources[0].Why, "nothing opts it in") {
		t.Errorf("steady: %+v, want up to date, with e not a source because nothing opts it in", x)
	}

	x = app.WorkloadExplanation{}
	s.Explain(&x, "-o", "json", "deployment/bystander")
	if x.Decision.Verdict != "not a consumer" || !slices.Equal(x.Unmanaged, []string{"plain"}) {
		t.Errorf("bystander: %+v, want not a consumer, using Secret plain that no ExternalSecret writes", x)
	}

	var es app.ExternalSecretExplanation
	s.Explain(&es, "-o", "json", "e")
	if len(es.Restarts) != 0 || len(es.DoesNotRestart) != 1 || es.DoesNotRestart[0].Name != "deployment/steady" {
		t.Errorf("externalsecret e: %+v, want it to restart nothing, and say why not deployment/steady", es)
	}
	es = app.ExternalSecretExplanation{}
	s.Explain(&es, "-o", "json", "--settle=1s", "b")
	if len(es.Restarts) != 1 || es.Restarts[0].Workload != "deployment/waiting" || es.Restarts[0].Decision.Verdict != "restart" {
		t.Errorf("externalsecret b: %+v, want it to restart deployment/waiting, now", es)
	}

	// The table says the same in words.
	table := s.Explain(nil, "deployment/held")
	t.Logf("eso-bridge explain deployment/held:\n%s", table)
	for _, want := range []string{"Workload " + s.NS + "/deployment/held", "SecretSyncedError", "Decision now: hold"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
