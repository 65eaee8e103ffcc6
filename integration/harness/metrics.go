package harness

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Counter reads a metric from the registry of the controller running in this
// process (see Scenario.StartBridge): the value of a counter or gauge, or the number of
// observations of a histogram, summed over the series of name whose labels
// include want; 0 when none exists yet.
func Counter(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("reading the controller's metrics: %v", err)
	}
	total := 0.0
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
	series:
		for _, m := range family.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch {
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			default:
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// MetricsText is the controller's metrics in the Prometheus text format, as
// a scrape of /metrics returns them.
func MetricsText(t testing.TB) string {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("reading the controller's metrics: %v", err)
	}
	var b strings.Builder
	for _, family := range families {
		if _, err := expfmt.MetricFamilyToText(&b, family); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
