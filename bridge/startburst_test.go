package bridge

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The start is over when every controller's queue is empty: queued adds up
// controller-runtime's workqueue_depth across controllers and nothing else.
func TestQueuedAddsUpEveryControllersQueue(t *testing.T) {
	reg := prometheus.NewRegistry()
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: workqueueDepth}, []string{"controller", "name"})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "workqueue_adds_total_unrelated"})
	reg.MustRegister(depth, other)
	other.Set(7)

	if got, err := queued(reg); err != nil || got != 0 {
		t.Fatalf("no controller yet: queued = %v, %v; want 0", got, err)
	}
	depth.WithLabelValues("deployment", "deployment").Set(3)
	depth.WithLabelValues("externalsecret-trigger", "externalsecret-trigger").Set(2)
	if got, err := queued(reg); err != nil || got != 5 {
		t.Fatalf("queued = %v, %v; want 5", got, err)
	}
	depth.WithLabelValues("deployment", "deployment").Set(0)
	depth.WithLabelValues("externalsecret-trigger", "externalsecret-trigger").Set(0)
	if got, err := queued(reg); err != nil || got != 0 {
		t.Fatalf("drained: queued = %v, %v; want 0", got, err)
	}
}
