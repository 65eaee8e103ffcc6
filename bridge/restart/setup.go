package restart

import (
	"context"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// SetupWithManager registers the reconciler for its kind. It reacts to the
// workload's own changes (spec or annotations, not status), to every change of
// an ExternalSecret it may follow (ESO's status confirms a sync), and to
// changes of Secrets — watched as metadata only, so no secret data is ever
// held or read. The indexes of package index must be set up first.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Writes == nil {
		r.Writes = NewWriteObserver()
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(r.Kind.Kind())).
		For(r.Kind.New(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&esv1.ExternalSecret{}, handler.EnqueueRequestsFromMapFunc(r.workloadsForExternalSecret), builder.WithPredicates(afterTheStart)).
		WatchesMetadata(&corev1.Secret{}, r.secretHandler(), builder.WithPredicates(esoManaged, afterTheStart))
	// A wave starts when the one before it has rolled out, which is
	// recorded on the workloads of that wave, of any kind.
	for _, kind := range r.kinds() {
		b = b.Watches(kind.New(), handler.EnqueueRequestsFromMapFunc(r.wavePeersOf(kind)), builder.WithPredicates(waveProgress))
	}
	// A restart held by the cap on rollouts in progress goes when one ends.
	if r.Cap.Enabled() {
		for _, kind := range r.kinds() {
			b = b.Watches(kind.New(), handler.EnqueueRequestsFromMapFunc(r.capWaiters), builder.WithPredicates(rolloutEnded))
		}
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Workers}).
		Complete(r)
}

// waveProgress passes the changes of a workload that may let the next wave
// of its rotations go: a restart or adoption recorded (its source digests),
// a rollout's end recorded, or the workload gone.
var waveProgress = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, after := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
		return before[annotations.AnnotationSourceDigests] != after[annotations.AnnotationSourceDigests] ||
			before[annotations.AnnotationRolloutResult] != after[annotations.AnnotationRolloutResult]
	},
}

// wavePeersOf maps a workload of kind to the workloads of this reconciler's
// kind that its progress may release: the consumers of the ExternalSecrets
// in waves whose Secrets it uses, which it follows or which name it.
// ExternalSecrets without waves map to nothing.
func (r *Reconciler) wavePeersOf(kind workload.Kind) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var requests []reconcile.Request
		peers := func(es *esv1.ExternalSecret) {
			if WaveMode(es, r.Options.Waves) != annotations.WavesOff {
				requests = append(requests, r.workloadsForExternalSecret(ctx, es)...)
			}
		}
		lookup := func(field, value string) {
			var found esv1.ExternalSecretList
			if err := r.Client.List(ctx, &found, client.InNamespace(obj.GetNamespace()), client.MatchingFields{field: value},
				client.UnsafeDisableDeepCopy); err != nil {
				log.FromContext(ctx).Error(err, "listing ExternalSecrets by index", "index", field)
				return
			}
			for i := range found.Items {
				peers(&found.Items[i])
			}
		}
		for _, secret := range kind.SecretsUsed(obj) {
			writers, err := index.Writers(ctx, r.Client, obj.GetNamespace(), secret, true)
			if err != nil {
				log.FromContext(ctx).Error(err, "finding the ExternalSecrets writing a Secret", "secret", secret)
			}
			for _, es := range writers {
				peers(es)
			}
		}
		lookup(index.RolloutWorkloads, workload.Key(kind.Kind(), obj.GetName()))
		followed, _ := annotations.ParseNameList(obj.GetAnnotations()[annotations.AnnotationExternalSecrets])
		for _, name := range followed {
			es := &esv1.ExternalSecret{}
			if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, es); err == nil {
				peers(es)
			}
		}
		return requests
	}
}

// afterTheStart drops the creations of the cache's first fill (and of its
// replay to a controller that starts later, a standby elected). They would
// map every ExternalSecret and Secret to the workloads using it, and each
// of those is queued by the For source's own first fill: the same
// reconciles, after index lookups for thousands of objects, at the start
// when the first reaction waits behind them.
var afterTheStart = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList },
}

// esoManaged passes Secrets that carry ESO's data-hash annotation.
var esoManaged = predicate.NewPredicateFuncs(func(obj client.Object) bool {
	_, ok := obj.GetAnnotations()[eso.DataHashAnnotation]
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
	requests := r.workloadsUsing(ctx, es.Namespace, index.SecretRefs, eso.TargetSecret(es))
	requests = append(requests, r.workloadsUsing(ctx, es.Namespace, index.FollowedExternalSecrets, es.Name)...)
	if policy, err := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout]); err == nil {
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
			newHash := e.ObjectNew.GetAnnotations()[eso.DataHashAnnotation]
			if e.ObjectOld.GetAnnotations()[eso.DataHashAnnotation] == newHash {
				return // metadata churn, not a write of new data
			}
			r.Writes.Observe(client.ObjectKeyFromObject(e.ObjectNew), newHash, e.ObjectNew.GetResourceVersion(), r.Clock.Now())
			enqueue(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.Writes.Forget(client.ObjectKeyFromObject(e.Object))
			enqueue(ctx, e.Object, q)
		},
	}
}

func (r *Reconciler) workloadsForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	requests := r.workloadsUsing(ctx, secret.GetNamespace(), index.SecretRefs, secret.GetName())
	writers, err := index.Writers(ctx, r.Client, secret.GetNamespace(), secret.GetName(), true)
	if err != nil {
		log.FromContext(ctx).Error(err, "finding the ExternalSecrets writing a Secret", "secret", client.ObjectKeyFromObject(secret))
		return requests
	}
	for _, es := range writers {
		requests = append(requests, r.workloadsUsing(ctx, es.Namespace, index.FollowedExternalSecrets, es.Name)...)
	}
	return requests
}

// workloadsUsing lists the workloads of this kind whose index field holds
// value. Only names are read: the cache's own objects, not copies.
func (r *Reconciler) workloadsUsing(ctx context.Context, namespace, field, value string) []reconcile.Request {
	list := r.Kind.NewList()
	if err := r.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{field: value}, client.UnsafeDisableDeepCopy); err != nil {
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
