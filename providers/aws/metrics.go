package aws

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/eso-bridge/eso-bridge/bridge/metrics"
)

// Metrics are the AWS provider's Prometheus metrics.
type Metrics struct {
	// Calls counts AWS calls by operation and result.
	Calls *prometheus.CounterVec
	// Events counts event queue messages by result (see EventReceived...).
	Events *prometheus.CounterVec
	// Unfollowed counts, by reason, the stores eso-bridge cannot reach as
	// ESO does, and so does not watch.
	Unfollowed *prometheus.GaugeVec
	// EventToTrigger observes the time from an event's arrival in the queue
	// to the move it announced being reported.
	EventToTrigger prometheus.Histogram
	// LastSweep is when the last sweep of every store finished (Unix
	// seconds), and SweepInterval how often one is due: an alert compares
	// the two to find a sweep that stopped.
	LastSweep     prometheus.Gauge
	SweepInterval prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (the
// controller-runtime registry, served on the manager's metrics endpoint,
// when nil); a second call returns the collectors already registered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = crmetrics.Registry
	}
	m := &Metrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eso_bridge_aws_calls_total", Help: "AWS calls by operation (Secrets Manager, Parameter Store and SQS; not the STS exchanges of credentials) and result.",
		}, []string{"operation", "result"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eso_bridge_aws_events_total", Help: "Messages from the Secrets Manager event queue, by result (received, handled, duplicate, ignored, malformed, failed).",
		}, []string{"result"}),
		Unfollowed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eso_bridge_aws_stores_unfollowed", Help: "AWS stores eso-bridge cannot reach with the identity ESO uses (static keys not read, a ServiceAccount without a role, a token refused), whose secrets it therefore does not watch, by reason.",
		}, []string{"reason"}),
		EventToTrigger: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eso_bridge_event_to_trigger_seconds", Help: "Latency from an event's arrival in the SQS queue to eso-bridge reporting the move it announced.", Buckets: metrics.LatencyBuckets,
		}),
	}
	m.LastSweep = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eso_bridge_aws_last_sweep_timestamp_seconds", Help: "When the last sweep of every AWS store finished (a store that failed counts as swept; its failures are in eso_bridge_aws_calls_total), in Unix seconds.",
	})
	m.SweepInterval = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eso_bridge_aws_sweep_interval_seconds", Help: "How often the AWS stores are swept (--aws-poll-interval).",
	})
	metrics.Register(reg, &m.LastSweep)
	metrics.Register(reg, &m.SweepInterval)
	metrics.Register(reg, &m.Calls)
	metrics.Register(reg, &m.Events)
	metrics.Register(reg, &m.Unfollowed)
	metrics.Register(reg, &m.EventToTrigger)
	// Every result is exported from the start (at 0), so that an alert on
	// increase() fires on the first failure after a start.
	for _, result := range []string{EventReceived, EventHandled, EventDuplicate, EventIgnored, EventMalformed, EventFailed} {
		m.Events.WithLabelValues(result)
	}
	for _, operation := range []string{"ListSecrets", "DescribeSecret", "DescribeParameters", "GetQueueAttributes", "ReceiveMessage", "DeleteMessageBatch"} {
		for _, result := range []string{"success", "error"} {
			m.Calls.WithLabelValues(operation, result)
		}
	}
	return m
}
