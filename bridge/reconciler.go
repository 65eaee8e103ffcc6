package bridge

import (
	"context"
	"fmt"
	"maps"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// ESODataHashAnnotation is the annotation ESO writes on each Secret it manages:
// a digest of the Secret's data, which changes exactly when the data does.
const ESODataHashAnnotation = "reconcile.external-secrets.io/data-hash"

// VaultVersions tells the gate about vault versions ESO has not written yet.
// A vault provider (AWS Secrets Manager) fills it; without one the gate uses
// ESO's status alone.
type VaultVersions interface {
	// Pending returns a version of es's remote data that ESO has not written
	// into the cluster yet, or "".
	Pending(es *esv1.ExternalSecret) string
}

// Log levels, named rather than numbered through the code.
const (
	levelDebug = 1
)

// Reconciler restarts the workloads of one kind when their ESO-managed
// sources have rotated and ESO has confirmed the write.
type Reconciler struct {
	Client   ctrl.Client
	Kind     WorkloadKind
	Options  Options
	Scope    *Scope
	Recorder Recorder
	Metrics  *Metrics
	Limiter  *RolloutLimiter
	// Versions is nil without a vault provider.
	Versions VaultVersions
	// Clock is the time source; a test seam.
	Clock clock.PassiveClock

	observer *writeObserver
}

var _ reconcile.Reconciler = &Reconciler{}

// Reconcile gathers one workload's sources, asks the gate, and acts.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("kind", r.Kind.Kind())
	workload := r.Kind.New()
	if err := r.Client.Get(ctx, req.NamespacedName, workload); err != nil {
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	// A workload being deleted has no pods worth restarting.
	if !workload.GetDeletionTimestamp().IsZero() {
		return reconcile.Result{}, nil
	}
	// Namespaces out of scope are never touched, whatever their annotations say.
	if allowed, err := r.Scope.Allows(ctx, r.Client, req.Namespace); err != nil || !allowed {
		return reconcile.Result{}, err
	}
	annotations := workload.GetAnnotations()
	// An unparsable ignore is taken as ignore: the user meant to opt out.
	if ignore, err := ParseBool(annotations[AnnotationIgnore]); err != nil || ignore {
		if err != nil {
			r.invalid(workload, nil, AnnotationIgnore, err)
		}
		return reconcile.Result{}, nil
	}

	sources, err := r.gatherSources(ctx, workload)
	if err != nil {
		return reconcile.Result{}, err
	}
	template := r.Kind.PodTemplate(workload)
	recorded := annotations[AnnotationSourceHash]
	if recorded == "" {
		recorded = template.Annotations[AnnotationSourceHash]
	}
	decision := Gate(GateInput{
		Now: r.Clock.Now(), RecordedHash: recorded, Sources: sources,
		Settle: r.Options.Settle, MaxWait: r.Options.MaxGateWait,
	})
	logger.V(levelDebug).Info("gate", "reason", decision.Reason, "message", decision.Message)

	switch decision.Action {
	case ActionNone:
		return reconcile.Result{}, nil
	case ActionWait:
		return reconcile.Result{RequeueAfter: decision.RequeueAfter}, nil
	case ActionAdopt:
		if err := r.patch(ctx, workload, decision.Hash, nil); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{RequeueAfter: conflictRetry}, nil
			}
			return reconcile.Result{}, err
		}
		logger.Info("adopted", "sources", len(sources))
		return reconcile.Result{}, nil
	case ActionHold, ActionTimedOut:
		r.Metrics.Holds.WithLabelValues(decision.Reason).Inc()
		r.Recorder.Warning(workload, r.related(ctx, req.Namespace, decision.Blocking, sources), decision.Reason, actionGate, decision.Message)
		// ESO's next status change, or the next write, wakes the workload again.
		return reconcile.Result{}, nil
	}

	// Only Events name a related object; waits and no-ops skip the lookup.
	related := r.related(ctx, req.Namespace, decision.Blocking, sources)
	// Restart, within the rate limits: a restart over them waits its turn.
	if delay := r.Limiter.Reserve(req.Namespace, r.Clock.Now()); delay > 0 {
		logger.V(levelDebug).Info("rate limited", "retryAfter", delay)
		return reconcile.Result{RequeueAfter: delay}, nil
	}
	restart := r.restartAnnotations(decision.Hash, sources)
	if err := r.patch(ctx, workload, decision.Hash, restart); err != nil {
		if apierrors.IsConflict(err) {
			r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), "conflict").Inc()
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), "error").Inc()
		r.Recorder.Warning(workload, related, ReasonRestartFailed, actionRestart, err.Error())
		return reconcile.Result{}, err
	}
	r.Metrics.Restarts.WithLabelValues(r.Kind.Kind(), "success").Inc()
	r.Metrics.GateWait.Observe(decision.Waited.Seconds())
	r.observeWriteToPatch(req.Namespace, sources)
	r.Recorder.Normal(workload, related, ReasonRestarted, actionRestart, "restarted: "+decision.Message)
	logger.Info("restarted", "sources", sourceNames(sources), "waited", decision.Waited, "traceID", parseTraceparent(restart[AnnotationTraceparent]).TraceID().String())
	return reconcile.Result{}, nil
}

// gatherSources reads what the gate needs about each ExternalSecret the
// workload follows. Bad annotations get a Warning and count as absent.
func (r *Reconciler) gatherSources(ctx context.Context, workload ctrl.Object) ([]Source, error) {
	annotations := workload.GetAnnotations()
	auto, err := ParseBool(annotations[AnnotationAuto])
	if err != nil {
		r.invalid(workload, nil, AnnotationAuto, err)
	}
	follow, err := ParseNameList(annotations[AnnotationExternalSecrets])
	if err != nil {
		r.invalid(workload, nil, AnnotationExternalSecrets, err)
	}
	used := secretsUsedBy(r.Kind.PodTemplate(workload))
	externalSecrets, err := r.candidates(ctx, workload, used, follow)
	if err != nil {
		return nil, err
	}
	candidates := make([]Candidate, 0, len(externalSecrets))
	for _, es := range externalSecrets {
		// A policy that does not parse is off here; the ExternalSecret checker
		// reports it on the ExternalSecret itself.
		policy, _ := ParseRolloutPolicy(es.Annotations[AnnotationRollout])
		candidates = append(candidates, Candidate{ExternalSecret: es, Policy: policy})
	}
	selected, missing := SelectSources(r.Kind.Kind(), workload.GetName(), used, OptIn{Auto: auto, Follow: follow}, r.Options.AutoAll, candidates)
	for _, name := range missing {
		r.Metrics.InvalidAnnotations.WithLabelValues(r.Kind.Kind()).Inc()
		r.Recorder.Warning(workload, nil, ReasonMissingReference, actionValidate,
			fmt.Sprintf("annotation %s names ExternalSecret %q, which does not exist in namespace %s", AnnotationExternalSecrets, name, workload.GetNamespace()))
	}
	sources := make([]Source, 0, len(selected))
	for _, es := range selected {
		source, err := r.source(ctx, es)
		if err != nil {
			return nil, err
		}
		sources = append(sources, source)
	}
	return sources, nil
}

// conflictRetry is when a patch that lost an optimistic-lock race is tried
// again: our cache was behind (kube-controller-manager writes a workload's
// status often), and the next attempt sees the current object. A retry
// through the error path would back off exponentially instead.
const conflictRetry = 100 * time.Millisecond

// candidates are the ExternalSecrets of the workload's namespace that can be
// its sources: those writing a Secret its pod template uses, those it
// follows by name, and those whose rollout annotation names it. They are
// found through indexes, not by listing the namespace: with thousands of
// ExternalSecrets a list (a deep copy of each) per reconcile cost more CPU
// than everything else together (the scale benchmark found it).
func (r *Reconciler) candidates(ctx context.Context, workload ctrl.Object, used, follow []string) ([]*esv1.ExternalSecret, error) {
	namespace := workload.GetNamespace()
	found := map[string]*esv1.ExternalSecret{}
	add := func(field, value string) error {
		var list esv1.ExternalSecretList
		if err := r.Client.List(ctx, &list, ctrl.InNamespace(namespace), ctrl.MatchingFields{field: value}); err != nil {
			return fmt.Errorf("listing ExternalSecrets by %s: %w", field, err)
		}
		for i := range list.Items {
			found[list.Items[i].Name] = &list.Items[i]
		}
		return nil
	}
	for _, secret := range used {
		if err := add(indexTargetSecret, secret); err != nil {
			return nil, err
		}
	}
	if err := add(indexRolloutWorkloads, workloadKey(r.Kind.Kind(), workload.GetName())); err != nil {
		return nil, err
	}
	for _, name := range follow {
		if _, ok := found[name]; ok {
			continue
		}
		es := &esv1.ExternalSecret{}
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, es)
		switch {
		case apierrors.IsNotFound(err):
			// SelectSources reports it missing.
		case err != nil:
			return nil, fmt.Errorf("reading ExternalSecret %s: %w", name, err)
		default:
			found[name] = es
		}
	}
	out := make([]*esv1.ExternalSecret, 0, len(found))
	for _, es := range found {
		out = append(out, es)
	}
	return out, nil
}

// source reads one ExternalSecret's Secret — metadata only — and status.
func (r *Reconciler) source(ctx context.Context, es *esv1.ExternalSecret) (Source, error) {
	s := Source{ExternalSecret: es.Name, Secret: TargetSecret(es)}
	for _, cond := range es.Status.Conditions {
		if cond.Type == esv1.ExternalSecretReady {
			s.Ready = cond.Status == corev1.ConditionTrue && cond.Reason == esv1.ConditionReasonSecretSynced
			s.Reason, s.Message = cond.Reason, cond.Message
		}
	}
	if r.Versions != nil {
		s.PendingVersion = r.Versions.Pending(es)
	}
	secret := secretMetadata()
	key := types.NamespacedName{Namespace: es.Namespace, Name: s.Secret}
	if err := r.Client.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return s, nil
		}
		return s, fmt.Errorf("reading Secret %s metadata: %w", key, err)
	}
	s.SecretFound = true
	s.DataHash = secret.Annotations[ESODataHashAnnotation]
	written := lastWrite(secret)
	s.StatusCurrent = es.Status.SyncedResourceVersion == ctrlutil.GetResourceVersion(es.ObjectMeta) &&
		!statusWritten(es).Before(written)
	if seen, ok := r.observer.seenAt(key, s.DataHash); ok {
		s.ChangedAt = seen
	} else {
		// The API server's record is truncated to the second: take its end.
		s.ChangedAt = written.Add(time.Second)
	}
	s.Traceparent = formatTraceparent(sourceTrace(es, secret, s.ChangedAt))
	return s, nil
}

// lastWrite is the newest write the API server recorded on the object.
func lastWrite(obj *metav1.PartialObjectMetadata) time.Time {
	newest := obj.CreationTimestamp.Time
	for _, entry := range obj.ManagedFields {
		if entry.Time != nil && entry.Time.After(newest) {
			newest = entry.Time.Time
		}
	}
	return newest
}

// statusWritten is when ESO last wrote the ExternalSecret's status, to the
// second. ESO's refreshTime is when its sync *started*, which can fall in the
// second before the Secret write; the API server's record of the status write
// comes after the Secret write, which is the order the gate checks.
func statusWritten(es *esv1.ExternalSecret) time.Time {
	newest := es.Status.RefreshTime.Time
	for _, entry := range es.ManagedFields {
		if entry.Subresource == "status" && entry.Time != nil && entry.Time.After(newest) {
			newest = entry.Time.Time
		}
	}
	return newest
}

func secretMetadata() *metav1.PartialObjectMetadata {
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return secret
}

// restartAnnotations are the pod-template annotations of a restart: the
// source hash, the time, and the trace and write time of the newest source's
// rotation (several sources rotated together restart once, in the newest
// one's trace).
func (r *Reconciler) restartAnnotations(hash string, sources []Source) map[string]string {
	annotations := map[string]string{
		AnnotationSourceHash:  hash,
		AnnotationRestartedAt: r.Clock.Now().UTC().Format(time.RFC3339Nano),
	}
	var newest *Source
	for i := range sources {
		if sources[i].Traceparent != "" && (newest == nil || sources[i].ChangedAt.After(newest.ChangedAt)) {
			newest = &sources[i]
		}
	}
	if newest != nil {
		annotations[AnnotationTraceparent] = newest.Traceparent
		annotations[AnnotationWrittenAt] = newest.ChangedAt.UTC().Format(time.RFC3339Nano)
	}
	return annotations
}

// patch records hash on the workload; with restart annotations it also
// changes the pod template, which rolls the pods. The optimistic lock makes a
// stale cache fail with a conflict instead of restarting twice.
func (r *Reconciler) patch(ctx context.Context, workload ctrl.Object, hash string, restart map[string]string) error {
	base := workload.DeepCopyObject().(ctrl.Object)
	setAnnotation(workload, AnnotationSourceHash, hash)
	if restart != nil {
		annotations := restart
		if annotator, ok := r.Kind.(templateAnnotator); ok {
			if err := annotator.AnnotateTemplate(workload, annotations); err != nil {
				return fmt.Errorf("annotating the pod template: %w", err)
			}
		} else {
			template := r.Kind.PodTemplate(workload)
			if template.Annotations == nil {
				template.Annotations = map[string]string{}
			}
			maps.Copy(template.Annotations, annotations)
		}
	}
	return r.Client.Patch(ctx, workload, ctrl.MergeFromWithOptions(base, ctrl.MergeFromWithOptimisticLock{}))
}

func setAnnotation(obj ctrl.Object, key, value string) {
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[key] = value
	obj.SetAnnotations(annotations)
}

// related returns the ExternalSecret an Event is about: the blocking one, or
// the first source.
func (r *Reconciler) related(ctx context.Context, namespace, blocking string, sources []Source) runtime.Object {
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
func (r *Reconciler) observeWriteToPatch(namespace string, sources []Source) {
	var newest time.Time
	for _, s := range sources {
		if seen, ok := r.observer.seenAt(types.NamespacedName{Namespace: namespace, Name: s.Secret}, s.DataHash); ok && seen.After(newest) {
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
	r.Recorder.Warning(obj, related, ReasonInvalidAnnotation, actionValidate, fmt.Sprintf("annotation %s ignored: %v", annotation, err))
}
