package restart

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
)

// ResultDryRun labels, in eso_bridge_restarts_total, a restart a dry run
// decided and did not make.
const ResultDryRun = "dry-run"

// dryRunRecords keeps, in memory, what a dry run would have recorded on each
// workload: the next decision is made against it, as the controller's would
// be against its annotations, so that one rotation is one "would restart".
// It is lost with the process: a dry run that restarts adopts again.
type dryRunRecords struct {
	mu         sync.Mutex
	byWorkload map[types.NamespacedName]gate.Decision
}

// in returns the record to decide against: the dry run's own, once it has
// one, else what the workload carries.
func (d *dryRunRecords) in(workload types.NamespacedName, hash string, digests map[string]string, keyID string, key digest.Key) (string, map[string]string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if decision, ok := d.byWorkload[workload]; ok {
		return decision.Hash, decision.Digests, key.ID()
	}
	return hash, digests, keyID
}

func (d *dryRunRecords) set(workload types.NamespacedName, decision gate.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byWorkload == nil {
		d.byWorkload = map[types.NamespacedName]gate.Decision{}
	}
	d.byWorkload[workload] = decision
}

// forget drops the record of a workload that is gone: one made later with
// its name is seen for the first time.
func (d *dryRunRecords) forget(workload types.NamespacedName) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byWorkload, workload)
}

// wouldRestart is a dry run's restart: counted, logged and told in an Event
// as a restart would be, with nothing patched.
func (r *Reconciler) wouldRestart(ctx context.Context, obj ctrl.Object, decision gate.Decision, sources []gate.Source, related runtime.Object) {
	r.wouldHaveRecorded.set(ctrl.ObjectKeyFromObject(obj), decision)
	r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), ResultDryRun).Inc()
	r.Metrics.GateWait.Observe(decision.Waited.Seconds())
	r.Recorder.Normal(obj, related, events.ReasonWouldRestart, events.ActionRestart, "would restart (dry run, nothing patched): "+decision.Message)
	log.FromContext(ctx).Info("would restart (dry run: nothing patched)", "kind", r.Kind.Kind(), "sources", gate.SourceNames(sources), "waited", decision.Waited)
}
