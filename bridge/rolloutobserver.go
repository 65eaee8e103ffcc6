package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/trace"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Event reasons of the rollout observer.
const (
	ReasonRolloutComplete = "RolloutComplete"
	ReasonRolloutStalled  = "RolloutStalled"
)

const actionObserve = "Observe"

// rolloutResult is the value of AnnotationRolloutResult.
type rolloutResult struct {
	Outcome     string    `json:"outcome"`
	FinishedAt  time.Time `json:"finishedAt"`
	RestartedAt string    `json:"restartedAt"`
	Revision    string    `json:"revision,omitempty"`
	Message     string    `json:"message,omitempty"`
}

func parseRolloutResult(value string) (rolloutResult, bool) {
	var r rolloutResult
	if value == "" || json.Unmarshal([]byte(value), &r) != nil {
		return rolloutResult{}, false
	}
	return r, true
}

// RolloutObserver follows each rollout eso-bridge started until it completes
// or stalls, by the rules of `kubectl rollout status`; reports it once with
// an Event and the patch-to-Ready latency; and closes the rotation's trace.
type RolloutObserver struct {
	Client   client.Client
	Kind     WorkloadKind
	Recorder Recorder
	Metrics  *Metrics
	// Deadline is how long a StatefulSet, DaemonSet or Argo Rollout may take
	// before it is reported stalled; a Deployment has its own
	// progressDeadlineSeconds.
	Deadline time.Duration
	Clock    clock.PassiveClock
	// tracer is nil when tracing is off.
	tracer *rotationTracer
}

var _ reconcile.Reconciler = &RolloutObserver{}

// SetupWithManager watches the kind's objects, status included, while a
// restart's rollout is unreported.
func (o *RolloutObserver) SetupWithManager(mgr ctrl.Manager) error {
	unreported := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		template := o.Kind.PodTemplate(obj)
		restartedAt := template.Annotations[AnnotationRestartedAt]
		result, _ := parseRolloutResult(obj.GetAnnotations()[AnnotationRolloutResult])
		if restartedAt != "" && result.RestartedAt != restartedAt {
			return true
		}
		return o.tracer.untraced(template, result)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(o.Kind.Kind())+"-rollout").
		For(o.Kind.New(), builder.WithPredicates(unreported)).
		Complete(o)
}

// Reconcile reports a finished rollout once.
func (o *RolloutObserver) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	workload := o.Kind.New()
	if err := o.Client.Get(ctx, req.NamespacedName, workload); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	template := o.Kind.PodTemplate(workload)
	restartedAt := template.Annotations[AnnotationRestartedAt]
	// Only restarts eso-bridge made are followed, and each is reported once.
	previous, _ := parseRolloutResult(workload.GetAnnotations()[AnnotationRolloutResult])
	if restartedAt == "" {
		return reconcile.Result{}, nil
	}
	// Reported already — perhaps by a replica stopped before it traced the
	// rotation: trace it, once per process.
	if previous.RestartedAt == restartedAt {
		if o.tracer.untraced(template, previous) {
			o.tracer.closeIfFinished(ctx, req.Namespace, parseTraceparent(template.Annotations[AnnotationTraceparent]))
		}
		return reconcile.Result{}, nil
	}
	progress, ok := ProgressOf(workload)
	// A CronJob has no rollout: its next run uses the new template.
	if !ok {
		return reconcile.Result{}, nil
	}
	now := o.Clock.Now()
	patchedAt := annotationTime(template.Annotations, AnnotationRestartedAt)
	if !progress.Done && !progress.Stalled {
		_, isDeployment := workload.(*appsv1.Deployment)
		if isDeployment || patchedAt == nil {
			return reconcile.Result{}, nil // status changes wake us
		}
		if waited := now.Sub(*patchedAt); waited < o.Deadline {
			return reconcile.Result{RequeueAfter: o.Deadline - waited}, nil
		}
		progress.Stalled = true
		progress.Message = fmt.Sprintf("not finished %s after the restart: %s", o.Deadline, progress.Message)
	}
	result := rolloutResult{Outcome: ReasonRolloutComplete, FinishedAt: now.UTC(), RestartedAt: restartedAt, Revision: progress.Revision, Message: progress.Message}
	if progress.Stalled {
		result.Outcome = ReasonRolloutStalled
	}
	// The optimistic lock makes the report happen once, whichever replica
	// or restart of eso-bridge gets here first.
	value, err := json.Marshal(result)
	if err != nil {
		return reconcile.Result{}, err
	}
	base := workload.DeepCopyObject().(client.Object)
	setAnnotation(workload, AnnotationRolloutResult, string(value))
	if err := o.Client.Patch(ctx, workload, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, fmt.Errorf("recording the rollout result: %w", err)
	}
	sc := parseTraceparent(template.Annotations[AnnotationTraceparent])
	related := o.relatedExternalSecret(ctx, req.Namespace, sc)
	if progress.Stalled {
		o.Recorder.Warning(workload, related, ReasonRolloutStalled, actionObserve, fmt.Sprintf("rollout of revision %s stalled: %s", result.Revision, progress.Message))
	} else {
		if patchedAt != nil {
			o.Metrics.PatchToReady.Observe(now.Sub(*patchedAt).Seconds())
		}
		o.Recorder.Normal(workload, related, ReasonRolloutComplete, actionObserve, fmt.Sprintf("rollout of revision %s complete: %s", result.Revision, progress.Message))
	}
	log.FromContext(ctx).Info("rollout finished", "outcome", result.Outcome, "revision", result.Revision, "traceID", sc.TraceID().String())
	o.tracer.closeIfFinished(ctx, req.Namespace, sc, workload)
	return reconcile.Result{}, nil
}

// relatedExternalSecret is the ExternalSecret whose trigger started the
// trace, if one did; nil otherwise.
func (o *RolloutObserver) relatedExternalSecret(ctx context.Context, namespace string, sc trace.SpanContext) runtime.Object {
	if !sc.IsValid() {
		return nil
	}
	var list esv1.ExternalSecretList
	if err := o.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{indexTraceID: sc.TraceID().String()}); err != nil {
		return nil
	}
	if es := triggeredBy(list.Items, sc.TraceID()); es != nil {
		return es
	}
	return nil
}
