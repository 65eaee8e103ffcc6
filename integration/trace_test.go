package integration_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// Without a vault provider the trace starts at ESO's write: a root span from
// the write and the rollout under it, no eso.refresh (nothing was
// triggered), and the new pods carry the trace ID. `eso-bridge trace` finds
// the rotation from the ExternalSecret.
func TestRotationWithoutVaultProviderIsTracedFromESOWrite(t *testing.T) {
	t.Parallel()
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	spans := tracetest.NewInMemoryExporter()
	s.StartBridgeWith(harness.TestOptions(), harness.WithSpans(spans))
	s.WaitAdopted(api)

	s.Rotate("db")
	s.ExpectRestarts(api, 1)
	var root, rollout tracetest.SpanStub
	s.WaitFor("the secret.rotation and workload.rollout spans", func() (bool, string) {
		var names []string
		for _, span := range spans.GetSpans() {
			names = append(names, span.Name)
			switch span.Name {
			case "secret.rotation":
				root = span
			case "workload.rollout":
				rollout = span
			}
		}
		return root.Name != "" && rollout.Name != "", strings.Join(names, ",")
	})
	if n := len(spans.GetSpans()); n != 2 {
		t.Errorf("%d spans, want secret.rotation and workload.rollout only", n)
	}
	if rollout.Parent.SpanID() != root.SpanContext.SpanID() || rollout.SpanContext.TraceID() != root.SpanContext.TraceID() {
		t.Errorf("workload.rollout is not a child of secret.rotation")
	}
	template := harness.PodTemplate(t, s.Get(api))
	written, err := time.Parse(time.RFC3339Nano, template.Annotations[annotations.AnnotationWrittenAt])
	if err != nil {
		t.Fatalf("the pod template's %s: %v", annotations.AnnotationWrittenAt, err)
	}
	if !root.StartTime.Equal(written) {
		t.Errorf("secret.rotation starts at %s, want ESO's write at %s", root.StartTime, written)
	}
	if !strings.Contains(template.Annotations[annotations.AnnotationTraceparent], root.SpanContext.TraceID().String()) {
		t.Errorf("the pod template's traceparent %q is not the rotation's trace", template.Annotations[annotations.AnnotationTraceparent])
	}

	var stdout, stderr bytes.Buffer
	if err := app.Trace(s.Ctx, []string{"--kubeconfig", s.CP.KubeconfigPath, "--digest-key-secret", s.NS + "/" + bridge.DefaultDigestKeySecret, "-o", "json", s.NS + "/db"}, &stdout, &stderr); err != nil {
		t.Fatalf("eso-bridge trace: %v\n%s", err, stderr.String())
	}
	var rotation rotation.Rotation
	if err := json.Unmarshal(stdout.Bytes(), &rotation); err != nil {
		t.Fatalf("eso-bridge trace -o json does not parse: %v\n%s", err, stdout.String())
	}
	if rotation.TraceID != root.SpanContext.TraceID().String() || rotation.VaultChangedAt != nil || len(rotation.Workloads) != 1 {
		t.Errorf("eso-bridge trace: %s, want trace %s without a vault change and with one rollout", stdout.String(), root.SpanContext.TraceID())
	}
}

// A rollout that cannot finish is reported with a RolloutStalled Warning and
// kubectl's reason: a Deployment whose new pods cannot be scheduled passes
// its progress deadline; a StatefulSet updated OnDelete never rolls.
func TestStalledRolloutWarnsWithTheReason(t *testing.T) {
	t.Run("Deployment", func(t *testing.T) {
		t.Parallel()
		s := harness.NewScenario(t)
		s.ExternalSecret("db", "v1", rolloutAuto)
		app := s.Workload(harness.WorkloadKinds[0], "app", nil, "db")
		stall, _ := s.Stallable(app)
		stall()
		s.StartBridge(harness.TestOptions())
		s.WaitAdopted(app)

		s.Rotate("db")
		if message := s.WaitEvent(events.ReasonRolloutStalled, "app"); !strings.Contains(message, "progress deadline") {
			t.Errorf("RolloutStalled says %q, want the progress deadline named", message)
		}
	})
	t.Run("StatefulSetOnDelete", func(t *testing.T) {
		t.Parallel()
		s := harness.NewScenario(t)
		s.ExternalSecret("db", "v1", rolloutAuto)
		app := s.Workload(harness.WorkloadKinds[1], "app", nil, "db")
		sts := s.Get(app).(*appsv1.StatefulSet)
		sts.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		if err := s.Client.Update(s.Ctx, sts); err != nil {
			t.Fatal(err)
		}
		s.StartBridge(harness.TestOptions())
		s.WaitAdopted(app)

		s.Rotate("db")
		if message := s.WaitEvent(events.ReasonRolloutStalled, "app"); !strings.Contains(message, "RollingUpdate") {
			t.Errorf("RolloutStalled says %q, want the update strategy named", message)
		}
	})
}

func countEvents(s *harness.Scenario, reason, regarding string) int {
	var list corev1.EventList
	if err := s.Client.List(s.Ctx, &list, client.InNamespace(s.NS)); err != nil {
		s.T.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == reason && e.InvolvedObject.Name == regarding {
			count := max(int(e.Count), 1)
			if e.Series != nil {
				count = max(count, int(e.Series.Count))
			}
			n += count
		}
	}
	return n
}
