package harness

import (
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Counter reads a counter from the registry of the controller running in this
// process (see Scenario.StartBridge): the series of name whose labels include
// want, or 0 when it does not exist yet.
func Counter(name string, want map[string]string) (float64, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, err
	}
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
			return m.GetCounter().GetValue(), nil
		}
	}
	return 0, nil
}
