// Package rollout is the rollout observer: it follows each rollout eso-bridge
// started until every new pod is Ready (or the rollout stalls), reports it
// once, and tells the tracer the rotation may be finished.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/fanout"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/metrics"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// Tracer is told when a rollout ends, so that it can close the rotation's
// trace. The tracing package implements it; the observer does not depend on
// how spans are made.
type Tracer interface {
	// Untraced reports whether a rollout reported recently (by this or
	// another replica) belongs to a rotation this process has not traced.
	Untraced(templateAnnotations map[string]string, result annotations.RolloutResult) bool
	// CloseIfFinished traces the rotation sc of namespace once every stage
	// has ended. fresh are objects just written, which the cache may not
	// hold yet.
	CloseIfFinished(ctx context.Context, namespace string, sc trace.SpanContext, fresh ...client.Object)
}

// Observer follows each rollout eso-bridge started until it completes
// or stalls, by the rules of `kubectl rollout status`; reports it once with
// an Event and the patch-to-Ready latency; and closes the rotation's trace.
type Observer struct {
	Client   client.Client
	Kind     workload.Kind
	Recorder events.Recorder
	Metrics  *metrics.Metrics
	// Deadline is how long a StatefulSet, DaemonSet or Argo Rollout may take
	// before it is reported stalled; a Deployment has its own
	// progressDeadlineSeconds.
	Deadline time.Duration
	Clock    clock.PassiveClock
	// Tracer is nil when tracing is off.
	Tracer Tracer
	// Changes are the cache's changes of the kind, which the controllers
	// share (package fanout).
	Changes *fanout.Changes
}

var _ reconcile.Reconciler = &Observer{}

// SetupWithManager watches the kind's objects, status included, while a
// restart's rollout is unreported.
func (o *Observer) SetupWithManager(mgr ctrl.Manager) error {
	if o.Changes == nil {
		return errors.New("the rollout observer needs the shared changes of its kind")
	}
	unreported := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		templateAnnotations := o.Kind.TemplateAnnotations(obj)
		if annotations.RolloutUnreported(obj.GetAnnotations(), templateAnnotations) {
			return true
		}
		result, _ := annotations.ParseRolloutResult(obj.GetAnnotations()[annotations.AnnotationRolloutResult])
		return o.Tracer != nil && o.Tracer.Untraced(templateAnnotations, result)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(o.Kind.Kind()) + "-rollout").
		WatchesRawSource(o.Changes.For(&handler.EnqueueRequestForObject{}, unreported)).
		Complete(o)
}

// Reconcile reports a finished rollout once.
func (o *Observer) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := o.Kind.New()
	if err := o.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	templateAnnotations := o.Kind.TemplateAnnotations(obj)
	restartedAt := templateAnnotations[annotations.AnnotationRestartedAt]
	// Only restarts eso-bridge made are followed, and each is reported once.
	previous, _ := annotations.ParseRolloutResult(obj.GetAnnotations()[annotations.AnnotationRolloutResult])
	if restartedAt == "" {
		return reconcile.Result{}, nil
	}
	// Reported already — perhaps by a replica stopped before it traced the
	// rotation: trace it, once per process.
	if previous.RestartedAt == restartedAt {
		if o.Tracer != nil && o.Tracer.Untraced(templateAnnotations, previous) {
			o.Tracer.CloseIfFinished(ctx, req.Namespace, traceparent.Parse(templateAnnotations[annotations.AnnotationTraceparent]))
		}
		return reconcile.Result{}, nil
	}
	progress, ok := o.Kind.Progress(obj)
	// A CronJob has no rollout: its next run uses the new template.
	if !ok {
		return reconcile.Result{}, nil
	}
	now := o.Clock.Now()
	patchedAt := annotations.Time(templateAnnotations, annotations.AnnotationRestartedAt)
	if !progress.Done && !progress.Stalled {
		_, isDeployment := obj.(*workload.DeploymentRecord)
		if isDeployment || patchedAt == nil {
			return reconcile.Result{}, nil // status changes wake us
		}
		if waited := now.Sub(*patchedAt); waited < o.Deadline {
			return reconcile.Result{RequeueAfter: o.Deadline - waited}, nil
		}
		progress.Stalled = true
		progress.Message = fmt.Sprintf("not finished %s after the restart: %s", o.Deadline, progress.Message)
	}
	result := annotations.RolloutResult{Outcome: events.ReasonRolloutComplete, FinishedAt: now.UTC(), RestartedAt: restartedAt, Revision: progress.Revision, Message: progress.Message}
	if progress.Stalled {
		result.Outcome = events.ReasonRolloutStalled
	}
	// The optimistic lock makes the report happen once, whichever replica
	// or restart of eso-bridge gets here first.
	base := obj.DeepCopyObject().(client.Object)
	annotations.Set(obj, annotations.AnnotationRolloutResult, result.String())
	if err := o.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, fmt.Errorf("recording the rollout result: %w", err)
	}
	sc := traceparent.Parse(templateAnnotations[annotations.AnnotationTraceparent])
	related := o.relatedExternalSecret(ctx, req.Namespace, sc)
	o.Metrics.Rollouts.WithLabelValues(o.Kind.Kind(), result.Outcome).Inc()
	if progress.Stalled {
		o.Recorder.Warning(obj, related, events.ReasonRolloutStalled, events.ActionObserve, fmt.Sprintf("rollout of revision %s stalled: %s", result.Revision, progress.Message))
	} else {
		if patchedAt != nil {
			o.Metrics.PatchToReady.Observe(now.Sub(*patchedAt).Seconds())
		}
		o.Recorder.Normal(obj, related, events.ReasonRolloutComplete, events.ActionObserve, fmt.Sprintf("rollout of revision %s complete: %s", result.Revision, progress.Message))
	}
	log.FromContext(ctx).Info("rollout finished", "outcome", result.Outcome, "revision", result.Revision, "traceID", sc.TraceID().String())
	if o.Tracer != nil {
		o.Tracer.CloseIfFinished(ctx, req.Namespace, sc, obj)
	}
	return reconcile.Result{}, nil
}

// relatedExternalSecret is the ExternalSecret whose trigger started the
// trace, if one did; nil otherwise.
func (o *Observer) relatedExternalSecret(ctx context.Context, namespace string, sc trace.SpanContext) runtime.Object {
	if !sc.IsValid() {
		return nil
	}
	var list esv1.ExternalSecretList
	if err := o.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{index.TraceID: sc.TraceID().String()}); err != nil {
		return nil
	}
	if es := traceparent.TriggeredBy(list.Items, sc.TraceID()); es != nil {
		return es
	}
	return nil
}
