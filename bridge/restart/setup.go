package restart

import (
	"context"
	"errors"
	"fmt"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/fanout"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// Changes are what the restart controllers watch besides their own kind:
// ExternalSecrets, Secrets (metadata only) and the workloads of every kind.
// Every controller watches each of them, so each informer carries one
// handler for all (package fanout), not one per kind.
type Changes struct {
	ExternalSecrets *fanout.Changes
	Secrets         *fanout.Changes
	// Workloads are by kind (workload.Kind.Kind).
	Workloads map[string]*fanout.Changes
}

// of returns the changes of kind, or an error when they are not watched.
func (c *Changes) of(kind workload.Kind) (*fanout.Changes, error) {
	changes, ok := c.Workloads[kind.Kind()]
	if !ok {
		return nil, fmt.Errorf("the shared changes do not watch %s", kind.Kind())
	}
	return changes, nil
}

// WatchChanges adds the shared handlers to the cache's informers. Call it
// before the cache starts.
func WatchChanges(ctx context.Context, c cache.Cache, kinds []workload.Kind) (*Changes, error) {
	var changes Changes
	var err error
	if changes.ExternalSecrets, err = fanout.Watch(ctx, c, &esv1.ExternalSecret{}); err != nil {
		return nil, fmt.Errorf("watching ExternalSecrets: %w", err)
	}
	// Secrets are cached as metadata only: no secret data is ever held or
	// read.
	if changes.Secrets, err = fanout.Watch(ctx, c, eso.SecretMetadata()); err != nil {
		return nil, fmt.Errorf("watching Secret metadata: %w", err)
	}
	changes.Workloads = make(map[string]*fanout.Changes, len(kinds))
	for _, kind := range kinds {
		if changes.Workloads[kind.Kind()], err = fanout.Watch(ctx, c, kind.New()); err != nil {
			return nil, fmt.Errorf("watching %s: %w", kind.Kind(), err)
		}
	}
	return &changes, nil
}

// SetupWithManager registers the reconciler for its kind. It reacts to the
// workload's own changes (spec or annotations, not status), to every change of
// an ExternalSecret it may follow (ESO's status confirms a sync), and to
// changes of Secrets. The indexes of package index must be set up first,
// and r.Changes watched (WatchChanges).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Writes == nil {
		r.Writes = NewWriteObserver()
	}
	if r.Changes == nil {
		return errors.New("the restart controller needs the shared changes (WatchChanges)")
	}
	own, err := r.Changes.of(r.Kind)
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(r.Kind.Kind())).
		WatchesRawSource(own.For(&handler.EnqueueRequestForObject{}, predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(r.Changes.ExternalSecrets.Source(handler.EnqueueRequestsFromMapFunc(r.workloadsForExternalSecret), afterTheStart)).
		WatchesRawSource(r.Changes.Secrets.Source(r.secretHandler(), esoManaged, afterTheStart))
	// A wave starts when the one before it has rolled out, which is
	// recorded on the workloads of that wave, of any kind. A restart held
	// by the cap on rollouts in progress goes when one ends.
	for _, kind := range r.kinds() {
		workloads, err := r.Changes.of(kind)
		if err != nil {
			return err
		}
		b = b.WatchesRawSource(workloads.Source(handler.EnqueueRequestsFromMapFunc(r.wavePeersOf(kind)), waveProgress))
		if r.Cap.Enabled() {
			b = b.WatchesRawSource(workloads.Source(handler.EnqueueRequestsFromMapFunc(r.capWaiters), rolloutEnded))
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
// when the first reaction waits behind them. The shared sources (package
// fanout) are handed none of them; the predicate is what says they need
// none.
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
