// Package metrics holds eso-bridge's Prometheus metrics, served on the
// manager's metrics endpoint. The AWS provider keeps its own.
package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics are eso-bridge's Prometheus metrics, served on the manager's
// metrics endpoint.
type Metrics struct {
	Restarts           *prometheus.CounterVec
	Holds              *prometheus.CounterVec
	GateWait           prometheus.Histogram
	WriteToPatch       prometheus.Histogram
	InvalidAnnotations *prometheus.CounterVec
	VaultDetection     prometheus.Histogram
	TriggerToSync      prometheus.Histogram
	VaultToWrite       prometheus.Histogram
	PatchToReady       prometheus.Histogram
	// Rollouts counts the rollouts eso-bridge followed to their end, by
	// workload kind and outcome (RolloutComplete, RolloutStalled).
	Rollouts *prometheus.CounterVec
}

// Results of a restart, and the outcomes of a rollout, as the metrics label
// them. Every value is exported from the start (at 0), so that an alert on
// increase() fires on the first one after a start, not the second.
var (
	restartResults  = []string{"success", "conflict", "error", "dry-run"}
	holdReasons     = []string{"SyncError", "GateTimedOut", "SecretMissing", "WaveHalted", "RolloutCapReached"}
	rolloutOutcomes = []string{"RolloutComplete", "RolloutStalled"}
)

// New creates the metrics and registers them with reg (the
// controller-runtime registry when nil).
func New(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = metrics.Registry
	}
	latency := LatencyBuckets
	m := &Metrics{
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eso_bridge_restarts_total", Help: "Workload restarts by kind and result (success; conflict: the workload changed meanwhile, retried at once; error; dry-run: decided, not made).",
		}, []string{"kind", "result"}),
		Holds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eso_bridge_holds_total", Help: "Restarts held or abandoned by the gate, and sources whose Secret never came, by reason (SyncError, GateTimedOut, SecretMissing; WaveHalted: a rotation's later waves held after a stalled rollout).",
		}, []string{"reason"}),
		GateWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eso_bridge_gate_wait_seconds", Help: "Time a changed workload waited at the gate, from its newest source write to the restart.", Buckets: latency,
		}),
		WriteToPatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eso_bridge_write_to_patch_seconds", Help: "Latency from ESO's Secret write, as seen by eso-bridge, to the workload patch.", Buckets: latency,
		}),
		InvalidAnnotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eso_bridge_invalid_annotations_total", Help: "Annotations that did not parse or named a missing object, by object kind.",
		}, []string{"kind"}),
		VaultDetection: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eso_bridge_vault_detection_seconds", Help: "Latency from the vault's own change time to eso-bridge seeing the move.", Buckets: latency,
		}),
	}
	m.TriggerToSync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eso_bridge_trigger_to_sync_seconds", Help: "Latency from eso-bridge triggering an ExternalSecret to ESO's status confirming the sync.", Buckets: latency,
	})
	m.VaultToWrite = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eso_bridge_vault_to_write_seconds", Help: "Latency from the vault's own change time to ESO's status confirming it wrote the new version (stage 1 of a rotation).", Buckets: latency,
	})
	m.PatchToReady = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eso_bridge_patch_to_ready_seconds", Help: "Latency from the workload patch to its rollout completing with every new pod Ready (stage 3 of a rotation).", Buckets: latency,
	})
	m.Rollouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eso_bridge_rollouts_total", Help: "Rollouts eso-bridge followed after a restart, by workload kind and outcome (RolloutComplete, RolloutStalled).",
	}, []string{"kind", "outcome"})
	Register(reg, &m.Rollouts)
	Register(reg, &m.VaultToWrite)
	Register(reg, &m.PatchToReady)
	Register(reg, &m.TriggerToSync)
	Register(reg, &m.VaultDetection)
	Register(reg, &m.Restarts)
	Register(reg, &m.Holds)
	Register(reg, &m.GateWait)
	Register(reg, &m.WriteToPatch)
	Register(reg, &m.InvalidAnnotations)
	for _, reason := range holdReasons {
		m.Holds.WithLabelValues(reason)
	}
	return m
}

// ForKind exports the restart, rollout and invalid-annotation series of a
// workload kind at 0, before its first restart.
func (m *Metrics) ForKind(kind string) {
	for _, result := range restartResults {
		m.Restarts.WithLabelValues(kind, result)
	}
	for _, outcome := range rolloutOutcomes {
		m.Rollouts.WithLabelValues(kind, outcome)
	}
	m.InvalidAnnotations.WithLabelValues(kind)
}

// LatencyBuckets are the histogram buckets of every latency eso-bridge
// measures, from milliseconds (a patch) to minutes (a gate wait).
var LatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 600}

// Register registers *c, or points it at the collector already registered
// under its name: a process that builds the controller twice (tests, a new
// manager after a lost lease) keeps counting in one place.
func Register[C prometheus.Collector](reg prometheus.Registerer, c *C) {
	err := reg.Register(*c)
	if already, ok := err.(prometheus.AlreadyRegisteredError); ok {
		*c = already.ExistingCollector.(C)
		return
	}
	if err != nil {
		panic(fmt.Sprintf("registering metric: %v", err))
	}
}
