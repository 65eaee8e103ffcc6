package inprocess_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// With only the standard OTEL_EXPORTER_OTLP_ENDPOINT set, a rotation's spans
// reach an OTLP/HTTP collector, under service.name eso-bridge.
func TestSpansReachAnOTLPCollectorFromTheStandardVariables(t *testing.T) {
	collector := harness.StartOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.WaitFor("the rotation's spans at the collector", func() (bool, string) {
		got := map[string]int{}
		for _, name := range []string{"secret.rotation", "eso.refresh", "workload.rollout"} {
			got[name] = collector.Count(name)
		}
		return got["secret.rotation"] == 1 && got["eso.refresh"] == 1 && got["workload.rollout"] == 1, fmt.Sprint(got)
	})
	if services := collector.Services(); !slices.Contains(services, "eso-bridge") {
		t.Errorf("service.name of the spans: %v, want eso-bridge", services)
	}
}
