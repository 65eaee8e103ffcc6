package bridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"go.opentelemetry.io/otel/trace"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Setup wires everything eso-bridge runs into mgr: the indexes, one
// Reconciler and one RolloutObserver per workload kind, the vault trigger
// when there is a vault source, and the ExternalSecret checker. tracing is
// nil when no spans are exported.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options, recorder Recorder, vault providers.Source, tracing trace.TracerProvider) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	scope, err := NewScope(opts)
	if err != nil {
		return err
	}
	kinds := servedKinds(mgr.GetRESTMapper())
	if err := setupIndexes(ctx, mgr, kinds); err != nil {
		return err
	}
	metrics := NewMetrics(nil)
	var tracer *rotationTracer
	if tracing != nil {
		// Pods are read live, never cached: a cluster's pods are many.
		tracer = newRotationTracer(tracing, RotationLoader{Client: mgr.GetClient(), Pods: mgr.GetAPIReader(), Kinds: kinds})
		if err := mgr.Add(manager.RunnableFunc(tracer.recheck)); err != nil {
			return err
		}
	}
	var versions VaultVersions
	if vault != nil {
		trigger := &VaultTrigger{Client: mgr.GetClient(), Source: vault, Scope: scope, Recorder: recorder,
			Detected: func(changedAt time.Time) { metrics.VaultDetection.Observe(time.Since(changedAt).Seconds()) },
			Confirmed: func(es *esv1.ExternalSecret, d time.Duration) {
				metrics.TriggerToSync.Observe(d.Seconds())
				if changed := annotationTime(es.Annotations, AnnotationVaultChangedAt); changed != nil {
					metrics.VaultToWrite.Observe(time.Since(*changed).Seconds())
				}
				// A rotation no workload restarts for is traced once the gate
				// has had its chance; a restart's rollout closes it otherwise.
				if tracer != nil {
					sc, namespace := parseTraceparent(es.Annotations[AnnotationTraceparent]), es.Namespace
					time.AfterFunc(2*opts.Settle+5*time.Second, func() { tracer.closeIfFinished(ctx, namespace, sc) })
				}
			},
		}
		if err := trigger.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the vault trigger: %w", err)
		}
		versions = trigger
	}
	limiter := NewRolloutLimiter(opts)
	observer := newWriteObserver()
	for _, kind := range kinds {
		r := &Reconciler{
			Client: mgr.GetClient(), Kind: kind, Options: opts, Scope: scope, Recorder: recorder,
			Metrics: metrics, Limiter: limiter, Versions: versions, Clock: clock.RealClock{}, observer: observer,
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", kind.Kind(), err)
		}
		observer := &RolloutObserver{Client: mgr.GetClient(), Kind: kind, Recorder: recorder, Metrics: metrics,
			Deadline: opts.RolloutDeadline, Clock: clock.RealClock{}, tracer: tracer}
		if err := observer.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s rollout observer: %w", kind.Kind(), err)
		}
	}
	checker := &ExternalSecretChecker{Client: mgr.GetClient(), Kinds: kinds, Scope: scope, Recorder: recorder, Metrics: metrics}
	return checker.SetupWithManager(mgr)
}

// SetupWithManager registers the reconciler for its kind. It reacts to the
// workload's own changes (spec or annotations, not status), to every change of
// an ExternalSecret it may follow (ESO's status confirms a sync), and to
// changes of Secrets — watched as metadata only, so no secret data is ever
// held or read.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.observer == nil {
		r.observer = newWriteObserver()
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(r.Kind.Kind())).
		For(r.Kind.New(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&esv1.ExternalSecret{}, handler.EnqueueRequestsFromMapFunc(r.workloadsForExternalSecret)).
		WatchesMetadata(&corev1.Secret{}, r.secretHandler(), builder.WithPredicates(esoManaged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Workers}).
		Complete(r)
}

// esoManaged passes Secrets that carry ESO's data-hash annotation.
var esoManaged = predicate.NewPredicateFuncs(func(obj client.Object) bool {
	_, ok := obj.GetAnnotations()[ESODataHashAnnotation]
	return ok
})

// workloadsForExternalSecret maps an ExternalSecret to the workloads of this
// kind it may restart: those using its Secret, those following it by name,
// and those its rollout annotation names.
func (r *Reconciler) workloadsForExternalSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	es, ok := obj.(*esv1.ExternalSecret)
	if !ok {
		return nil
	}
	requests := r.workloadsUsing(ctx, es.Namespace, indexSecretRefs, TargetSecret(es))
	requests = append(requests, r.workloadsUsing(ctx, es.Namespace, indexFollowedExternalSecrets, es.Name)...)
	if policy, err := ParseRolloutPolicy(es.Annotations[AnnotationRollout]); err == nil {
		for _, w := range policy.Workloads {
			if w.Kind == strings.ToLower(r.Kind.Kind()) {
				requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: es.Namespace, Name: w.Name}})
			}
		}
	}
	return requests
}

// secretHandler records when a Secret's data-hash changes and maps the Secret
// to its consumers, and to the followers of the ExternalSecrets that write it.
func (r *Reconciler) secretHandler() handler.TypedEventHandler[client.Object, reconcile.Request] {
	enqueue := func(ctx context.Context, obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range r.workloadsForSecret(ctx, obj) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			newHash := e.ObjectNew.GetAnnotations()[ESODataHashAnnotation]
			if e.ObjectOld.GetAnnotations()[ESODataHashAnnotation] == newHash {
				return // metadata churn, not a write of new data
			}
			r.observer.observe(client.ObjectKeyFromObject(e.ObjectNew), newHash, r.Clock.Now())
			enqueue(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.observer.forget(client.ObjectKeyFromObject(e.Object))
			enqueue(ctx, e.Object, q)
		},
	}
}

func (r *Reconciler) workloadsForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	requests := r.workloadsUsing(ctx, secret.GetNamespace(), indexSecretRefs, secret.GetName())
	var writers esv1.ExternalSecretList
	if err := r.Client.List(ctx, &writers, client.InNamespace(secret.GetNamespace()), client.MatchingFields{indexTargetSecret: secret.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the ExternalSecrets writing a Secret", "secret", client.ObjectKeyFromObject(secret))
		return requests
	}
	for _, es := range writers.Items {
		requests = append(requests, r.workloadsUsing(ctx, es.Namespace, indexFollowedExternalSecrets, es.Name)...)
	}
	return requests
}

// workloadsUsing lists the workloads of this kind whose index field holds value.
func (r *Reconciler) workloadsUsing(ctx context.Context, namespace, field, value string) []reconcile.Request {
	list := r.Kind.NewList()
	if err := r.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{field: value}); err != nil {
		log.FromContext(ctx).Error(err, "listing workloads by index", "kind", r.Kind.Kind(), "index", field)
		return nil
	}
	items := r.Kind.Items(list)
	requests := make([]reconcile.Request, 0, len(items))
	for _, obj := range items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	}
	return requests
}
