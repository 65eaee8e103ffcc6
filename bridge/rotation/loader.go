// Package rotation is the read model of a rotation: its timeline, read from
// cluster state alone — what `eso-bridge trace` prints and what the spans of
// a rotation's trace are made of. Nothing in the write path imports it.
package rotation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// Loader reads rotations from the cluster.
type Loader struct {
	// Client reads ExternalSecrets, Secret metadata and workloads.
	Client client.Reader
	// Pods reads pods; in the controller it bypasses the cache, so that pods
	// are never cached cluster-wide.
	Pods  client.Reader
	Kinds []workload.Kind
	// Key derives the traces of Secret writes eso-bridge did not trigger;
	// nil when the reader cannot read it: only triggered rotations are
	// found then.
	Key *digest.Key
	// fresh are objects just written, newer than what Client may return
	// (the controller's cache lags its own writes).
	fresh []client.Object
}

// WithFresh returns a loader that prefers obj over Client's copy of it.
func (l Loader) WithFresh(obj client.Object) Loader {
	l.fresh = append(slices.Clip(l.fresh), obj)
	return l
}

// freshest returns the fresh copy of obj when there is one.
func (l Loader) freshest(obj client.Object) client.Object {
	for _, f := range l.fresh {
		if f.GetUID() == obj.GetUID() {
			return f
		}
	}
	return obj
}

// ForExternalSecret loads the latest rotation of an ExternalSecret.
func (l Loader) ForExternalSecret(ctx context.Context, key types.NamespacedName) (*Rotation, error) {
	es := &esv1.ExternalSecret{}
	if err := l.Client.Get(ctx, key, es); err != nil {
		return nil, fmt.Errorf("reading ExternalSecret %s: %w", key, err)
	}
	secret, err := l.secret(ctx, es)
	if err != nil {
		return nil, err
	}
	sc := traceparent.Latest(l.Key, es, secret)
	if !sc.IsValid() {
		if l.Key == nil {
			return nil, fmt.Errorf("ExternalSecret %s has no rotation eso-bridge triggered; the trace of a write it did not trigger is keyed with eso-bridge's digest key, which cannot be read here: trace a workload it restarted instead", key)
		}
		return nil, fmt.Errorf("ExternalSecret %s has no rotation yet: eso-bridge has not triggered it and ESO has not written its Secret", key)
	}
	return l.Load(ctx, key.Namespace, sc)
}

// ForWorkload loads the rotation a workload was last restarted for.
func (l Loader) ForWorkload(ctx context.Context, kind workload.Kind, key types.NamespacedName) (*Rotation, error) {
	obj := kind.New()
	if err := l.Client.Get(ctx, key, obj); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", kind.Kind(), key, err)
	}
	sc := traceparent.Parse(kind.PodTemplate(obj).Annotations[annotations.AnnotationTraceparent])
	if !sc.IsValid() {
		return nil, fmt.Errorf("%s %s has not been restarted by eso-bridge", kind.Kind(), key)
	}
	return l.Load(ctx, key.Namespace, sc)
}

// Load reads the rotation whose trace is sc in namespace.
func (l Loader) Load(ctx context.Context, namespace string, sc trace.SpanContext) (*Rotation, error) {
	r := &Rotation{TraceID: sc.TraceID().String(), Traceparent: traceparent.Format(sc), Namespace: namespace, Workloads: []WorkloadRollout{}}
	// Listed once: the trace's ExternalSecret is found among them, and the
	// sources of the consumers it did not restart. A read model only reads:
	// from a cache, its own objects are listed, not copies.
	var list esv1.ExternalSecretList
	if err := l.Client.List(ctx, &list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing ExternalSecrets in %s: %w", namespace, err)
	}
	es, secret, err := l.findExternalSecret(ctx, list.Items, sc.TraceID())
	if err != nil {
		return nil, err
	}
	if es != nil {
		r.fillExternalSecret(es, secret)
	}
	consumers, err := l.loadWorkloads(ctx, r, sc.TraceID(), es, list.Items)
	if err != nil {
		return nil, err
	}
	r.orderStages()
	r.explainWaiting(es, secret, consumers)
	return r, nil
}

// findExternalSecret finds the ExternalSecret of a trace among items: the
// one whose trigger carries it, or, when the key is known, the one whose
// Secret's write derives it.
func (l Loader) findExternalSecret(ctx context.Context, items []esv1.ExternalSecret, tid trace.TraceID) (*esv1.ExternalSecret, *metav1.PartialObjectMetadata, error) {
	if es := traceparent.TriggeredBy(items, tid); es != nil {
		secret, err := l.secret(ctx, es)
		return es, secret, err
	}
	if l.Key == nil {
		return nil, nil, nil
	}
	for i := range items {
		es := &items[i]
		secret, err := l.secret(ctx, es)
		if err != nil {
			return nil, nil, err
		}
		if traceparent.OfSecretWrite(*l.Key, es, secret).TraceID() == tid {
			return es, secret, nil
		}
	}
	return nil, nil, nil
}

// secret reads the metadata of es's Secret; nil when it does not exist.
func (l Loader) secret(ctx context.Context, es *esv1.ExternalSecret) (*metav1.PartialObjectMetadata, error) {
	secret := eso.SecretMetadata()
	key := types.NamespacedName{Namespace: es.Namespace, Name: eso.TargetSecret(es)}
	if err := l.Client.Get(ctx, key, secret); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return secret, nil
}

func (r *Rotation) fillExternalSecret(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) {
	r.ExternalSecret = es.Name
	r.Secret = eso.TargetSecret(es)
	r.ExternalSecretResourceVersion = es.ResourceVersion
	if traceparent.Parse(es.Annotations[annotations.AnnotationTraceparent]).TraceID().String() == r.TraceID {
		r.VaultVersions = annotations.SplitList(es.Annotations[annotations.AnnotationVaultVersions])
		r.VaultARNs = annotations.SplitList(es.Annotations[annotations.AnnotationVaultARNs])
		r.VaultChangedAt = annotations.Time(es.Annotations, annotations.AnnotationVaultChangedAt)
		r.TriggeredAt = annotations.Time(es.Annotations, annotations.AnnotationTriggeredAt)
	}
	if secret != nil {
		r.SecretResourceVersion = secret.ResourceVersion
		if written := eso.LastWrite(secret); r.TriggeredAt == nil || !written.Add(time.Second).Before(*r.TriggeredAt) {
			r.WrittenAt = &written
		}
	}
	if r.WrittenAt != nil && eso.Synced(es) && !eso.StatusWritten(es).Add(time.Second).Before(*r.WrittenAt) {
		confirmed := eso.StatusWritten(es)
		r.ConfirmedAt = &confirmed
	}
}

// loadWorkloads adds the workloads restarted for the trace and returns the
// other consumers of es's Secret, which may still be waiting on the sources
// among externalSecrets (the namespace's).
func (l Loader) loadWorkloads(ctx context.Context, r *Rotation, tid trace.TraceID, es *esv1.ExternalSecret, externalSecrets []esv1.ExternalSecret) ([]string, error) {
	var others []string
	precise := false
	for _, kind := range l.Kinds {
		list := kind.NewList()
		if err := l.Client.List(ctx, list, client.InNamespace(r.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", kind.Kind(), r.Namespace, err)
		}
		for _, obj := range kind.Items(list) {
			obj = l.freshest(obj)
			template := kind.PodTemplate(obj)
			if traceparent.Parse(template.Annotations[annotations.AnnotationTraceparent]).TraceID() != tid {
				if es != nil && consumes(kind, obj, es) {
					other := describeOther(kind, obj, template, r)
					if !restartedSince(template, r) {
						blocking, err := l.unsettledSources(ctx, kind, obj, externalSecrets)
						if err != nil {
							return nil, err
						}
						if len(blocking) > 0 {
							other += "; its sources not settled: " + strings.Join(blocking, "; ")
						}
					}
					others = append(others, other)
				}
				continue
			}
			w, err := l.rollout(ctx, kind, obj, template)
			if err != nil {
				return nil, err
			}
			// eso-bridge's own record of the write it restarted for is exact;
			// the API server's is to the second.
			if written := annotations.Time(template.Annotations, annotations.AnnotationWrittenAt); written != nil && (!precise || written.Before(*r.WrittenAt)) {
				r.WrittenAt, precise = written, true
			}
			r.Workloads = append(r.Workloads, w)
		}
	}
	slices.SortFunc(r.Workloads, func(a, b WorkloadRollout) int { return a.PatchedAt.Compare(b.PatchedAt) })
	return others, nil
}

// consumes reports whether obj uses es's Secret or names es.
func consumes(kind workload.Kind, obj client.Object, es *esv1.ExternalSecret) bool {
	if slices.Contains(workload.SecretsUsedBy(kind.PodTemplate(obj)), eso.TargetSecret(es)) {
		return true
	}
	followed, _ := annotations.ParseNameList(obj.GetAnnotations()[annotations.AnnotationExternalSecrets])
	if slices.Contains(followed, es.Name) {
		return true
	}
	policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
	return policy.Includes(kind.Kind(), obj.GetName())
}

// rollout reads one restarted workload's rollout and its new pods.
func (l Loader) rollout(ctx context.Context, kind workload.Kind, obj client.Object, template *corev1.PodTemplateSpec) (WorkloadRollout, error) {
	w := WorkloadRollout{Kind: kind.Kind(), Name: obj.GetName(), Pods: []PodReady{}}
	restartedAt := template.Annotations[annotations.AnnotationRestartedAt]
	if at := annotations.Time(template.Annotations, annotations.AnnotationRestartedAt); at != nil {
		w.PatchedAt = *at
	}
	if result, ok := annotations.ParseRolloutResult(obj.GetAnnotations()[annotations.AnnotationRolloutResult]); ok && result.RestartedAt == restartedAt {
		w.Outcome, w.Message, w.Revision = result.Outcome, result.Message, result.Revision
		w.FinishedAt = &result.FinishedAt
	} else if progress, ok := kind.Progress(obj); ok {
		w.Message, w.Revision = progress.Message, progress.Revision
	} else {
		// Kinds without a rollout (CronJob) are done once patched: the next run uses the new template.
		w.Outcome, w.FinishedAt, w.Message = events.ReasonRolloutComplete, &w.PatchedAt, "the next run uses the new template"
	}
	pods, err := l.newPods(ctx, kind, obj, restartedAt)
	if err != nil {
		return w, err
	}
	w.Pods = pods
	return w, nil
}

// newPods lists the pods of obj made from the template restarted at restartedAt.
func (l Loader) newPods(ctx context.Context, kind workload.Kind, obj client.Object, restartedAt string) ([]PodReady, error) {
	selector := kind.PodSelector(obj)
	if selector == nil || restartedAt == "" {
		return []PodReady{}, nil
	}
	labels, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("reading the pod selector of %s: %w", obj.GetName(), err)
	}
	var list corev1.PodList
	if err := l.Pods.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingLabelsSelector{Selector: labels}); err != nil {
		return nil, fmt.Errorf("listing the pods of %s: %w", obj.GetName(), err)
	}
	pods := []PodReady{}
	for _, pod := range list.Items {
		if pod.Annotations[annotations.AnnotationRestartedAt] != restartedAt || !pod.DeletionTimestamp.IsZero() {
			continue
		}
		p := PodReady{Name: pod.Name}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				at := cond.LastTransitionTime.Time
				p.ReadyAt = &at
			}
		}
		pods = append(pods, p)
	}
	slices.SortFunc(pods, func(a, b PodReady) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}
