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
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/window"
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
	// Indexed says Client is the controller's cache, with the field indexes
	// of package index: a rotation is then found by lookups, at a cost
	// independent of the size of its namespace.
	Indexed bool
	// Waves and AutoAll are the controller's --waves and --auto-all: how
	// it judges the waves of a rotation.
	Waves   annotations.WaveMode
	AutoAll bool
	// RestartWindow is the controller's --restart-window.
	RestartWindow window.Schedule
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
	return l.load(ctx, key.Namespace, sc, es)
}

// ForWorkload loads the rotation a workload was last restarted for.
func (l Loader) ForWorkload(ctx context.Context, kind workload.Kind, key types.NamespacedName) (*Rotation, error) {
	obj := kind.New()
	if err := l.Client.Get(ctx, key, obj); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", kind.Kind(), key, err)
	}
	sc := traceparent.Parse(kind.TemplateAnnotations(obj)[annotations.AnnotationTraceparent])
	if !sc.IsValid() {
		return nil, fmt.Errorf("%s %s has not been restarted by eso-bridge", kind.Kind(), key)
	}
	return l.Load(ctx, key.Namespace, sc)
}

// Load reads the rotation whose trace is sc in namespace.
func (l Loader) Load(ctx context.Context, namespace string, sc trace.SpanContext) (*Rotation, error) {
	return l.load(ctx, namespace, sc, nil)
}

// load reads the rotation of sc; hint, when known, is the ExternalSecret
// whose Secret's write may have begun it.
func (l Loader) load(ctx context.Context, namespace string, sc trace.SpanContext, hint *esv1.ExternalSecret) (*Rotation, error) {
	r := &Rotation{TraceID: sc.TraceID().String(), Traceparent: traceparent.Format(sc), Namespace: namespace, Workloads: []WorkloadRollout{}}
	f := l.lookupIn(namespace)
	restarted, err := f.restartedFor(ctx, r.TraceID)
	if err != nil {
		return nil, err
	}
	es, secret, err := f.findExternalSecret(ctx, sc.TraceID(), hint, restarted)
	if err != nil {
		return nil, err
	}
	if es != nil {
		r.fillExternalSecret(es, secret)
		r.reads = append(r.reads, workload.Key("ExternalSecret", es.Name), workload.Key("Secret", eso.TargetSecret(es)))
	}
	if err := f.addRollouts(ctx, r, restarted); err != nil {
		return nil, err
	}
	others, err := f.otherConsumers(ctx, r, es, secret)
	if err != nil {
		return nil, err
	}
	if es == nil {
		r.reads = nil // see ReadFrom
	}
	r.orderStages()
	r.explainWaiting(es, secret, others)
	return r, nil
}

// kindObject is a workload and its kind.
type kindObject struct {
	kind workload.Kind
	obj  client.Object
}

// restartedFor returns the workloads whose pod template was last restarted
// for the trace tid.
func (f *lookup) restartedFor(ctx context.Context, tid string) ([]kindObject, error) {
	var restarted []kindObject
	for _, kind := range f.Kinds {
		objs, err := f.workloads(ctx, kind, index.TraceID, tid)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			restarted = append(restarted, kindObject{kind, obj})
		}
	}
	return restarted, nil
}

// findExternalSecret finds the ExternalSecret of trace tid: the one whose
// trigger carries it, or, when the key is known, the one whose Secret's
// write derives it — hint, or one of the sources of the restarted workloads.
func (f *lookup) findExternalSecret(ctx context.Context, tid trace.TraceID, hint *esv1.ExternalSecret, restarted []kindObject) (*esv1.ExternalSecret, *metav1.PartialObjectMetadata, error) {
	triggered, err := f.externalSecrets(ctx, index.TraceID, tid.String())
	if err != nil {
		return nil, nil, err
	}
	if len(triggered) > 0 {
		secret, err := f.secret(ctx, triggered[0])
		return triggered[0], secret, err
	}
	if f.Key == nil {
		return nil, nil, nil
	}
	candidates, err := f.sourcesOf(ctx, restarted)
	if err != nil {
		return nil, nil, err
	}
	if hint != nil {
		candidates = append([]*esv1.ExternalSecret{hint}, candidates...)
	}
	if !f.Indexed {
		// A live reader has listed the namespace already: an ExternalSecret
		// no restarted workload names (deleted since, say) is found too.
		all, err := f.everyExternalSecret(ctx)
		if err != nil {
			return nil, nil, err
		}
		candidates = append(candidates, all...)
	}
	for _, es := range candidates {
		secret, err := f.secret(ctx, es)
		if err != nil {
			return nil, nil, err
		}
		if traceparent.OfSecretWrite(*f.Key, es, secret).TraceID() == tid {
			return es, secret, nil
		}
	}
	return nil, nil, nil
}

// sourcesOf returns the ExternalSecrets that could have restarted the
// workloads: those writing a Secret their pod template uses, those they
// follow, and those whose rollout policy names them.
func (f *lookup) sourcesOf(ctx context.Context, workloads []kindObject) ([]*esv1.ExternalSecret, error) {
	var sources []*esv1.ExternalSecret
	seen := map[string]bool{}
	add := func(found ...*esv1.ExternalSecret) {
		for _, es := range found {
			if es != nil && !seen[es.Name] {
				seen[es.Name] = true
				sources = append(sources, es)
			}
		}
	}
	for _, w := range workloads {
		for _, name := range w.kind.SecretsUsed(w.obj) {
			found, err := f.writers(ctx, name)
			if err != nil {
				return nil, err
			}
			add(found...)
		}
		followed, _ := annotations.ParseNameList(w.obj.GetAnnotations()[annotations.AnnotationExternalSecrets])
		for _, name := range followed {
			es, err := f.externalSecret(ctx, name)
			if err != nil {
				return nil, err
			}
			add(es)
		}
		found, err := f.externalSecrets(ctx, index.RolloutWorkloads, workload.Key(w.kind.Kind(), w.obj.GetName()))
		if err != nil {
			return nil, err
		}
		add(found...)
	}
	return sources, nil
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

// addRollouts adds the rollouts of the restarted workloads to r.
func (f *lookup) addRollouts(ctx context.Context, r *Rotation, restarted []kindObject) error {
	precise := false
	for _, w := range restarted {
		templateAnnotations := w.kind.TemplateAnnotations(w.obj)
		rollout, err := f.rollout(ctx, w.kind, w.obj, templateAnnotations)
		if err != nil {
			return err
		}
		// eso-bridge's own record of the write it restarted for is exact;
		// the API server's is to the second.
		if written := annotations.Time(templateAnnotations, annotations.AnnotationWrittenAt); written != nil && (!precise || written.Before(*r.WrittenAt)) {
			r.WrittenAt, precise = written, true
		}
		r.Workloads = append(r.Workloads, rollout)
		r.reads = append(r.reads, workload.Key(w.kind.Kind(), w.obj.GetName()))
	}
	slices.SortFunc(r.Workloads, func(a, b WorkloadRollout) int { return a.PatchedAt.Compare(b.PatchedAt) })
	return nil
}

// otherConsumers describes the consumers of es's Secret not restarted for
// r — using the Secret, following es, or named by its rollout policy — and
// what their other sources wait on.
func (f *lookup) otherConsumers(ctx context.Context, r *Rotation, es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) ([]string, error) {
	if es == nil {
		return nil, nil
	}
	inWaves, err := f.waveState(ctx, r, es, secret)
	if err != nil {
		return nil, err
	}
	policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
	var others []string
	for _, kind := range f.Kinds {
		consumers, err := f.workloads(ctx, kind, index.SecretRefs, eso.TargetSecret(es))
		if err != nil {
			return nil, err
		}
		followers, err := f.workloads(ctx, kind, index.FollowedExternalSecrets, es.Name)
		if err != nil {
			return nil, err
		}
		consumers = append(consumers, followers...)
		for _, named := range policy.Workloads {
			if named.Kind != strings.ToLower(kind.Kind()) {
				continue
			}
			obj, err := f.workload(ctx, kind, named.Name)
			if err != nil {
				return nil, err
			}
			if obj != nil {
				consumers = append(consumers, obj)
			}
		}
		slices.SortFunc(consumers, func(a, b client.Object) int { return strings.Compare(a.GetName(), b.GetName()) })
		consumers = slices.CompactFunc(consumers, func(a, b client.Object) bool { return a.GetName() == b.GetName() })
		for _, obj := range consumers {
			templateAnnotations := kind.TemplateAnnotations(obj)
			if traceparent.Parse(templateAnnotations[annotations.AnnotationTraceparent]).TraceID().String() == r.TraceID {
				if !slices.ContainsFunc(r.Workloads, func(w WorkloadRollout) bool { return w.Kind == kind.Kind() && w.Name == obj.GetName() }) {
					// Restarted for r since its rollouts were read: r is not
					// finished, and the next change of it is read again.
					r.restartsToCome++
					r.reads = append(r.reads, workload.Key(kind.Kind(), obj.GetName()))
				}
				continue
			}
			// A consumer may yet be restarted for r: a change to it is a
			// change to r.
			r.reads = append(r.reads, workload.Key(kind.Kind(), obj.GetName()))
			v, inWave := inWaves.check(r, kind, obj)
			if inWave && !v.Go {
				others = append(others, workload.Key(kind.Kind(), obj.GetName())+": "+v.Message)
				continue
			}
			if message, waits := f.outsideWindow(r, kind, obj, es, secret); waits {
				others = append(others, workload.Key(kind.Kind(), obj.GetName())+": "+message)
				continue
			}
			if inWave {
				others = append(others, workload.Key(kind.Kind(), obj.GetName())+": "+v.Message)
				continue
			}
			other := describeOther(kind, obj, templateAnnotations, r)
			if !restartedSince(templateAnnotations, r) {
				blocking, err := f.unsettledSources(ctx, kind, obj)
				if err != nil {
					return nil, err
				}
				if len(blocking) > 0 {
					other += "; its sources not settled: " + strings.Join(blocking, "; ")
				}
			}
			others = append(others, other)
		}
	}
	return others, nil
}

// rollout reads one restarted workload's rollout and its new pods.
func (l Loader) rollout(ctx context.Context, kind workload.Kind, obj client.Object, templateAnnotations map[string]string) (WorkloadRollout, error) {
	w := WorkloadRollout{Kind: kind.Kind(), Name: obj.GetName(), Pods: []PodReady{}}
	restartedAt := templateAnnotations[annotations.AnnotationRestartedAt]
	if at := annotations.Time(templateAnnotations, annotations.AnnotationRestartedAt); at != nil {
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
