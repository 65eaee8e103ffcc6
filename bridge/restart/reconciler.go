// Package restart is the restart controller: for each workload it gathers
// the ExternalSecrets it follows and their Secrets — metadata only — asks the
// gate whether ESO has finished writing them, and restarts the workload once
// by patching its pod template. It also reports bad rollout annotations on
// ExternalSecrets (checker.go).
package restart

import (
	"context"
	"fmt"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/metrics"
	"github.com/eso-bridge/eso-bridge/bridge/scope"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/window"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// PendingVersions tells the gate about vault versions ESO has not written
// yet. The vault trigger fills it; without a vault the gate uses ESO's status
// alone.
type PendingVersions interface {
	// Pending returns a version of es's remote data that ESO has not written
	// into the cluster yet, or "".
	Pending(es *esv1.ExternalSecret) string
}

// Reconciler restarts the workloads of one kind when their ESO-managed
// sources have rotated and ESO has confirmed the write.
type Reconciler struct {
	Client ctrl.Client
	Kind   workload.Kind
	// Kinds are every kind restarted, which a rotation's waves span; Kind
	// alone when empty.
	Kinds    []workload.Kind
	Options  Options
	Scope    *scope.Scope
	Recorder events.Recorder
	Metrics  *metrics.Metrics
	Limiter  *Limiter
	// Cap is shared by the reconcilers of every kind; nil is no cap.
	Cap *RolloutCap
	// Versions is nil without a vault.
	Versions PendingVersions
	// Writes is shared by the reconcilers of every kind; one of its own
	// when nil.
	Writes *WriteObserver
	// Changes are the ExternalSecret, Secret and workload changes the
	// reconcilers of every kind share (WatchChanges).
	Changes *Changes
	// Clock is the time source; a test seam.
	Clock clock.PassiveClock
	// Key keys the digests and hashes recorded on workloads and pod
	// templates, and the traces of writes.
	Key digest.Key
	// Pods reads a workload's pods, live (they are not cached), when it is
	// seen for the first time; nil skips that look.
	Pods ctrl.Reader
	// InstalledAt is when eso-bridge was installed (its digest key made):
	// an ESO write before it is never a reason to restart.
	InstalledAt time.Time

	// wouldHaveRecorded is what a dry run would have recorded on each
	// workload, in place of the annotations it does not write.
	wouldHaveRecorded dryRunRecords
}

// Options are what the restart controller decides with, bound to flags by
// the controller's options.
type Options struct {
	// AutoAll restarts every workload that uses an ESO-managed Secret.
	AutoAll bool
	// Settle is how long all of a workload's sources must be quiet before
	// the restart, so that sources rotating together cause one restart.
	Settle time.Duration
	// MaxGateWait bounds how long a changed workload waits for its sources.
	MaxGateWait time.Duration
	// Workers is the number of workloads of one kind reconciled at once.
	Workers int
	// DryRun decides, logs, counts and sends Events as usual, and patches
	// nothing (dryrun.go).
	DryRun bool
	// Waves is the wave mode of an ExternalSecret without
	// annotations.AnnotationWaves.
	Waves annotations.WaveMode
	// RestartWindow is when a workload may restart if neither it nor the
	// ExternalSecrets it restarts for say (annotations.AnnotationRestartWindow).
	RestartWindow window.Schedule
}

var _ reconcile.Reconciler = &Reconciler{}

// Log levels, named rather than numbered through the code.
const levelDebug = 1

// conflictRetry is when a patch that lost an optimistic-lock race is tried
// again: our cache was behind (kube-controller-manager writes a workload's
// status often), and the next attempt sees the current object. A retry
// through the error path would back off exponentially instead.
const conflictRetry = 100 * time.Millisecond

// forget drops what the reconciler keeps of a workload that is gone or
// going: its place among the rollouts a cap counts, and a dry run's record.
func (r *Reconciler) forget(workload types.NamespacedName) {
	r.Cap.Forget(r.Kind.Kind(), workload)
	r.wouldHaveRecorded.forget(workload)
}

// Reconcile gathers one workload's sources, asks the gate, and acts.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (result reconcile.Result, err error) {
	logger := log.FromContext(ctx).WithValues("kind", r.Kind.Kind())
	obj := r.Kind.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	// A workload being deleted has no pods worth restarting.
	if !obj.GetDeletionTimestamp().IsZero() {
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	// Namespaces out of scope are never touched, whatever their annotations say.
	if allowed, err := r.Scope.Allows(ctx, r.Client, req.Namespace); err != nil || !allowed {
		return reconcile.Result{}, err
	}
	// An unparsable ignore is taken as ignore: the user meant to opt out.
	if ignore, err := annotations.ParseBool(obj.GetAnnotations()[annotations.AnnotationIgnore]); err != nil || ignore {
		if err != nil {
			r.invalid(obj, nil, annotations.AnnotationIgnore, err)
		}
		return reconcile.Result{}, nil
	}

	gathered, err := r.gatherSources(ctx, obj)
	if err != nil {
		return reconcile.Result{}, err
	}
	sources := gathered.Sources
	recorded := obj.GetAnnotations()[annotations.AnnotationSourceHash]
	if recorded == "" {
		recorded = r.Kind.TemplateAnnotations(obj)[annotations.AnnotationSourceHash]
	}
	recordedDigests := annotations.ParseSourceDigests(obj.GetAnnotations()[annotations.AnnotationSourceDigests])
	recordedKeyID := obj.GetAnnotations()[annotations.AnnotationDigestKey]
	if r.Options.DryRun {
		recorded, recordedDigests, recordedKeyID = r.wouldHaveRecorded.in(req.NamespacedName, recorded, recordedDigests, recordedKeyID, r.Key)
	}
	if recorded == "" && recordedDigests == nil {
		if err := r.markPodsOlder(ctx, obj, sources); err != nil {
			return reconcile.Result{}, err
		}
	}
	input := gate.Input{
		Now: r.Clock.Now(), RecordedHash: recorded, Sources: sources,
		Recorded:      recordedDigests,
		Key:           r.Key,
		RecordedKeyID: recordedKeyID,
		Settle:        r.Options.Settle, MaxWait: r.Options.MaxGateWait,
	}
	decision := gate.Gate(input)
	logger.V(levelDebug).Info("gate", "reason", decision.Reason, "message", decision.Message)
	// A Secret that never came holds nothing, and is reported once it is
	// overdue; the workload is looked at again when the next one will be.
	stuck, recheck := gate.Unwritten(input)
	for _, s := range stuck {
		es := r.related(ctx, req.Namespace, s.ExternalSecret, nil)
		if r.Recorder.Warning(obj, es, gate.ReasonSecretMissing, events.ActionGate, fmt.Sprintf(
			"ExternalSecret %s has not written Secret %s in the %s since it was created; the workload is restarted for its other sources meanwhile",
			s.ExternalSecret, s.Secret, r.Options.MaxGateWait)) {
			r.Metrics.Holds.WithLabelValues(gate.ReasonSecretMissing).Inc()
		}
	}
	if recheck > 0 {
		defer func() {
			if err == nil && (result.RequeueAfter == 0 || recheck < result.RequeueAfter) {
				result.RequeueAfter = recheck
			}
		}()
	}

	switch decision.Action {
	case gate.ActionNone:
		return reconcile.Result{}, nil
	case gate.ActionWait:
		return reconcile.Result{RequeueAfter: decision.RequeueAfter}, nil
	case gate.ActionAdopt:
		if r.Options.DryRun {
			r.wouldHaveRecorded.set(req.NamespacedName, decision)
			logger.Info("adopted (dry run: nothing patched)", "reason", decision.Reason, "message", decision.Message)
			return reconcile.Result{}, nil
		}
		if err := r.patch(ctx, obj, decision, nil); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{RequeueAfter: conflictRetry}, nil
			}
			return reconcile.Result{}, err
		}
		logger.Info("adopted", "reason", decision.Reason, "message", decision.Message)
		return reconcile.Result{}, nil
	case gate.ActionHold, gate.ActionTimedOut:
		r.Metrics.Holds.WithLabelValues(decision.Reason).Inc()
		r.Recorder.Warning(obj, r.related(ctx, req.Namespace, decision.Blocking, sources), decision.Reason, events.ActionGate, decision.Message)
		// ESO's next status change, or the next write, wakes the workload again.
		return reconcile.Result{}, nil
	}

	// A rotation in waves restarts this workload once the waves before its
	// own have rolled out. A dry run records no restart to wait on.
	if !r.Options.DryRun {
		if result, held, err := r.waitForWaves(ctx, obj, decision, gathered); held || err != nil {
			return result, err
		}
	}
	// Outside its restart window, the restart waits for it to open; a dry
	// run decides the same.
	if result, held := r.waitForWindow(ctx, obj, decision.Rotated, gathered); held {
		return result, nil
	}
	// Only Events name a related object; waits and no-ops skip the lookup.
	related := r.related(ctx, req.Namespace, decision.Blocking, sources)
	restart := r.restartAnnotations(decision.Hash, sources)
	// Over the cap on rollouts in progress, the restart waits for one to
	// end. A dry run starts no rollout to count.
	capped := !r.Options.DryRun && r.Cap.Enabled()
	if capped {
		if result, held, err := r.takeRolloutPlace(ctx, obj, related, restart); held || err != nil {
			return result, err
		}
	}
	// Restart, within the rate limits: a restart over them waits its turn.
	if delay := r.Limiter.Reserve(req.Namespace, r.Clock.Now()); delay > 0 {
		logger.V(levelDebug).Info("rate limited", "retryAfter", delay)
		if capped {
			r.Cap.Release(r.Kind, obj, restart[annotations.AnnotationRestartedAt])
		}
		return reconcile.Result{RequeueAfter: delay}, nil
	}
	if r.Options.DryRun {
		r.wouldRestart(ctx, obj, decision, sources, related)
		return reconcile.Result{}, nil
	}
	if err := r.patch(ctx, obj, decision, restart); err != nil {
		if capped {
			r.Cap.Release(r.Kind, obj, restart[annotations.AnnotationRestartedAt])
		}
		if apierrors.IsConflict(err) {
			r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), "conflict").Inc()
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), "error").Inc()
		r.Recorder.Warning(obj, related, events.ReasonRestartFailed, events.ActionRestart, err.Error())
		return reconcile.Result{}, err
	}
	r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), "success").Inc()
	r.Metrics.GateWait.Observe(decision.Waited.Seconds())
	r.observeWriteToPatch(req.Namespace, sources)
	r.Recorder.Normal(obj, related, events.ReasonRestarted, events.ActionRestart, "restarted: "+decision.Message)
	logger.Info("restarted", "sources", gate.SourceNames(sources), "waited", decision.Waited,
		"traceID", traceparent.Parse(restart[annotations.AnnotationTraceparent]).TraceID().String())
	return reconcile.Result{}, nil
}

// related returns the ExternalSecret an Event is about: the blocking one, or
// the first source.
func (r *Reconciler) related(ctx context.Context, namespace, blocking string, sources []gate.Source) runtime.Object {
	name := blocking
	if name == "" && len(sources) > 0 {
		name = sources[0].ExternalSecret
	}
	if name == "" {
		return nil
	}
	es := &esv1.ExternalSecret{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, es); err != nil {
		return nil
	}
	return es
}

// observeWriteToPatch records the latency from the newest source write eso-bridge saw to now.
func (r *Reconciler) observeWriteToPatch(namespace string, sources []gate.Source) {
	var newest time.Time
	for _, s := range sources {
		if seen, ok := r.Writes.SeenAt(types.NamespacedName{Namespace: namespace, Name: s.Secret}, s.DataHash); ok && seen.After(newest) {
			newest = seen
		}
	}
	if !newest.IsZero() {
		r.Metrics.WriteToPatch.Observe(r.Clock.Since(newest).Seconds())
	}
}

// invalid reports an annotation that does not parse.
func (r *Reconciler) invalid(obj ctrl.Object, related runtime.Object, annotation string, err error) {
	r.Metrics.InvalidAnnotations.WithLabelValues(r.Kind.Kind()).Inc()
	r.Recorder.Warning(obj, related, events.ReasonInvalidAnnotation, events.ValidateAction(annotation), fmt.Sprintf("annotation %s ignored: %v", annotation, err))
}
