package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Rotation is the timeline of one rotation of an ExternalSecret, read from
// cluster state alone: what `eso-bridge trace` prints and what the spans of
// the rotation's trace are made of.
//
// The API server records times to the second; eso-bridge's own annotations
// to the nanosecond. So that a table reads in order, no stage is placed before
// the stage it follows.
type Rotation struct {
	TraceID string `json:"traceID"`
	// Traceparent names the rotation's root span.
	Traceparent    string `json:"traceparent"`
	Namespace      string `json:"namespace"`
	ExternalSecret string `json:"externalSecret,omitempty"`
	Secret         string `json:"secret,omitempty"`
	// VaultVersions are the "key=versionID" pairs the trigger asked ESO to
	// fetch; empty when the rotation was not triggered by a vault provider.
	VaultVersions []string `json:"vaultVersions,omitempty"`
	// VaultARNs are "key=ARN" pairs, where the vault reports ARNs.
	VaultARNs []string `json:"vaultARNs,omitempty"`
	// VaultChangedAt is the vault's own time of the change.
	VaultChangedAt *time.Time `json:"vaultChangedAt,omitempty"`
	// TriggeredAt is when eso-bridge annotated the ExternalSecret.
	TriggeredAt *time.Time `json:"triggeredAt,omitempty"`
	// WrittenAt is when ESO wrote the Secret.
	WrittenAt             *time.Time `json:"writtenAt,omitempty"`
	SecretResourceVersion string     `json:"secretResourceVersion,omitempty"`
	// ConfirmedAt is when ESO's status confirmed the write.
	ConfirmedAt                   *time.Time        `json:"confirmedAt,omitempty"`
	ExternalSecretResourceVersion string            `json:"externalSecretResourceVersion,omitempty"`
	Workloads                     []WorkloadRollout `json:"workloads"`
	// Waiting says what has not happened yet, and why.
	Waiting []string `json:"waiting,omitempty"`
}

// WorkloadRollout is one workload restarted for a rotation.
type WorkloadRollout struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	PatchedAt time.Time `json:"patchedAt"`
	Revision  string    `json:"revision,omitempty"`
	// Outcome is RolloutComplete, RolloutStalled, or empty while it rolls.
	Outcome    string     `json:"outcome,omitempty"`
	Message    string     `json:"message,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Pods       []PodReady `json:"pods"`
}

// PodReady is a new pod of a rollout and when it became Ready.
type PodReady struct {
	Name    string     `json:"name"`
	ReadyAt *time.Time `json:"readyAt,omitempty"`
}

// Start is when the rotation began: the vault's change, or ESO's write when
// no vault provider saw it.
func (r *Rotation) Start() time.Time {
	for _, t := range []*time.Time{r.VaultChangedAt, r.TriggeredAt, r.WrittenAt} {
		if t != nil {
			return *t
		}
	}
	if len(r.Workloads) > 0 {
		return r.Workloads[0].PatchedAt
	}
	return time.Time{}
}

// End is the latest time the timeline knows.
func (r *Rotation) End() time.Time {
	end := r.Start()
	later := func(t *time.Time) {
		if t != nil && t.After(end) {
			end = *t
		}
	}
	later(r.ConfirmedAt)
	later(r.WrittenAt)
	for i := range r.Workloads {
		w := &r.Workloads[i]
		later(&w.PatchedAt)
		later(w.FinishedAt)
		for _, p := range w.Pods {
			later(p.ReadyAt)
		}
	}
	return end
}

// Finished reports whether every stage has happened: ESO confirmed the write
// and every restarted workload's rollout completed or stalled.
func (r *Rotation) Finished() bool {
	if r.ExternalSecret != "" && r.ConfirmedAt == nil {
		return false
	}
	for _, w := range r.Workloads {
		if w.Outcome == "" {
			return false
		}
	}
	return true
}

// RotationLoader reads rotations from the cluster.
type RotationLoader struct {
	// Client reads ExternalSecrets, Secret metadata and workloads.
	Client client.Reader
	// Pods reads pods; in the controller it bypasses the cache, so that pods
	// are never cached cluster-wide.
	Pods  client.Reader
	Kinds []WorkloadKind
	// fresh are objects just written, newer than what Client may return
	// (the controller's cache lags its own writes).
	fresh []client.Object
}

// withFresh returns a loader that prefers obj over Client's copy of it.
func (l RotationLoader) withFresh(obj client.Object) RotationLoader {
	l.fresh = append(slices.Clip(l.fresh), obj)
	return l
}

// freshest returns the fresh copy of obj when there is one.
func (l RotationLoader) freshest(obj client.Object) client.Object {
	for _, f := range l.fresh {
		if f.GetUID() == obj.GetUID() {
			return f
		}
	}
	return obj
}

// ForExternalSecret loads the latest rotation of an ExternalSecret.
func (l RotationLoader) ForExternalSecret(ctx context.Context, key types.NamespacedName) (*Rotation, error) {
	es := &esv1.ExternalSecret{}
	if err := l.Client.Get(ctx, key, es); err != nil {
		return nil, fmt.Errorf("reading ExternalSecret %s: %w", key, err)
	}
	secret, err := l.secret(ctx, es)
	if err != nil {
		return nil, err
	}
	sc := latestTrace(es, secret)
	if !sc.IsValid() {
		return nil, fmt.Errorf("ExternalSecret %s has no rotation yet: eso-bridge has not triggered it and ESO has not written its Secret", key)
	}
	return l.Load(ctx, key.Namespace, sc)
}

// ForWorkload loads the rotation a workload was last restarted for.
func (l RotationLoader) ForWorkload(ctx context.Context, kind WorkloadKind, key types.NamespacedName) (*Rotation, error) {
	obj := kind.New()
	if err := l.Client.Get(ctx, key, obj); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", kind.Kind(), key, err)
	}
	sc := parseTraceparent(kind.PodTemplate(obj).Annotations[AnnotationTraceparent])
	if !sc.IsValid() {
		return nil, fmt.Errorf("%s %s has not been restarted by eso-bridge", kind.Kind(), key)
	}
	return l.Load(ctx, key.Namespace, sc)
}

// Load reads the rotation whose trace is sc in namespace.
func (l RotationLoader) Load(ctx context.Context, namespace string, sc trace.SpanContext) (*Rotation, error) {
	r := &Rotation{TraceID: sc.TraceID().String(), Traceparent: formatTraceparent(sc), Namespace: namespace, Workloads: []WorkloadRollout{}}
	es, secret, err := l.findExternalSecret(ctx, namespace, sc.TraceID())
	if err != nil {
		return nil, err
	}
	if es != nil {
		r.fillExternalSecret(es, secret)
	}
	consumers, err := l.loadWorkloads(ctx, r, sc.TraceID(), es)
	if err != nil {
		return nil, err
	}
	r.orderStages()
	r.explainWaiting(es, secret, consumers)
	return r, nil
}

// findExternalSecret finds the ExternalSecret of a trace: the one whose
// trigger carries it, or the one whose Secret's write derives it.
func (l RotationLoader) findExternalSecret(ctx context.Context, namespace string, tid trace.TraceID) (*esv1.ExternalSecret, *metav1.PartialObjectMetadata, error) {
	var list esv1.ExternalSecretList
	if err := l.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, nil, fmt.Errorf("listing ExternalSecrets in %s: %w", namespace, err)
	}
	if es := triggeredBy(list.Items, tid); es != nil {
		secret, err := l.secret(ctx, es)
		return es, secret, err
	}
	for i := range list.Items {
		es := &list.Items[i]
		secret, err := l.secret(ctx, es)
		if err != nil {
			return nil, nil, err
		}
		if writeTraceOf(es, secret).TraceID() == tid {
			return es, secret, nil
		}
	}
	return nil, nil, nil
}

// triggeredBy returns the ExternalSecret whose trigger started trace tid, or nil.
func triggeredBy(items []esv1.ExternalSecret, tid trace.TraceID) *esv1.ExternalSecret {
	for i := range items {
		if parseTraceparent(items[i].Annotations[AnnotationTraceparent]).TraceID() == tid {
			return &items[i]
		}
	}
	return nil
}

// secret reads the metadata of es's Secret; nil when it does not exist.
func (l RotationLoader) secret(ctx context.Context, es *esv1.ExternalSecret) (*metav1.PartialObjectMetadata, error) {
	secret := secretMetadata()
	key := types.NamespacedName{Namespace: es.Namespace, Name: TargetSecret(es)}
	if err := l.Client.Get(ctx, key, secret); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return secret, nil
}

func (r *Rotation) fillExternalSecret(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) {
	r.ExternalSecret = es.Name
	r.Secret = TargetSecret(es)
	r.ExternalSecretResourceVersion = es.ResourceVersion
	if parseTraceparent(es.Annotations[AnnotationTraceparent]).TraceID().String() == r.TraceID {
		r.VaultVersions = splitList(es.Annotations[AnnotationVaultVersions])
		r.VaultARNs = splitList(es.Annotations[AnnotationVaultARNs])
		r.VaultChangedAt = annotationTime(es.Annotations, AnnotationVaultChangedAt)
		r.TriggeredAt = annotationTime(es.Annotations, AnnotationTriggeredAt)
	}
	if secret != nil {
		r.SecretResourceVersion = secret.ResourceVersion
		if written := lastWrite(secret); r.TriggeredAt == nil || !written.Add(time.Second).Before(*r.TriggeredAt) {
			r.WrittenAt = &written
		}
	}
	if r.WrittenAt != nil && esSynced(es) && !statusWritten(es).Add(time.Second).Before(*r.WrittenAt) {
		confirmed := statusWritten(es)
		r.ConfirmedAt = &confirmed
	}
}

// loadWorkloads adds the workloads restarted for the trace and returns the
// other consumers of es's Secret, which may still be waiting.
func (l RotationLoader) loadWorkloads(ctx context.Context, r *Rotation, tid trace.TraceID, es *esv1.ExternalSecret) ([]string, error) {
	var others []string
	precise := false
	for _, kind := range l.Kinds {
		list := kind.NewList()
		if err := l.Client.List(ctx, list, client.InNamespace(r.Namespace)); err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", kind.Kind(), r.Namespace, err)
		}
		for _, obj := range kind.Items(list) {
			obj = l.freshest(obj)
			template := kind.PodTemplate(obj)
			if parseTraceparent(template.Annotations[AnnotationTraceparent]).TraceID() != tid {
				if es != nil && consumes(kind, obj, es) {
					others = append(others, describeOther(kind, obj, template, r))
				}
				continue
			}
			w, err := l.rollout(ctx, kind, obj, template)
			if err != nil {
				return nil, err
			}
			// eso-bridge's own record of the write it restarted for is exact;
			// the API server's is to the second.
			if written := annotationTime(template.Annotations, AnnotationWrittenAt); written != nil && (!precise || written.Before(*r.WrittenAt)) {
				r.WrittenAt, precise = written, true
			}
			r.Workloads = append(r.Workloads, w)
		}
	}
	slices.SortFunc(r.Workloads, func(a, b WorkloadRollout) int { return a.PatchedAt.Compare(b.PatchedAt) })
	return others, nil
}

// consumes reports whether obj uses es's Secret or names es.
func consumes(kind WorkloadKind, obj client.Object, es *esv1.ExternalSecret) bool {
	if slices.Contains(secretsUsedBy(kind.PodTemplate(obj)), TargetSecret(es)) {
		return true
	}
	followed, _ := ParseNameList(obj.GetAnnotations()[AnnotationExternalSecrets])
	if slices.Contains(followed, es.Name) {
		return true
	}
	policy, _ := ParseRolloutPolicy(es.Annotations[AnnotationRollout])
	return policy.Includes(kind.Kind(), obj.GetName())
}

// describeOther says why a consumer is not part of the rotation.
func describeOther(kind WorkloadKind, obj client.Object, template *corev1.PodTemplateSpec, r *Rotation) string {
	name := strings.ToLower(kind.Kind()) + "/" + obj.GetName()
	restarted := annotationTime(template.Annotations, AnnotationRestartedAt)
	if restarted != nil && r.WrittenAt != nil && restarted.After(*r.WrittenAt) {
		return fmt.Sprintf("%s was restarted for another rotation (trace %s) at %s", name, parseTraceparent(template.Annotations[AnnotationTraceparent]).TraceID(), restarted.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s uses the Secret but was not restarted for this rotation: its other sources may be waiting, its restart may be held, or it has not opted in (see its Events)", name)
}

// rollout reads one restarted workload's rollout and its new pods.
func (l RotationLoader) rollout(ctx context.Context, kind WorkloadKind, obj client.Object, template *corev1.PodTemplateSpec) (WorkloadRollout, error) {
	w := WorkloadRollout{Kind: kind.Kind(), Name: obj.GetName(), Pods: []PodReady{}}
	restartedAt := template.Annotations[AnnotationRestartedAt]
	if at := annotationTime(template.Annotations, AnnotationRestartedAt); at != nil {
		w.PatchedAt = *at
	}
	if result, ok := parseRolloutResult(obj.GetAnnotations()[AnnotationRolloutResult]); ok && result.RestartedAt == restartedAt {
		w.Outcome, w.Message, w.Revision = result.Outcome, result.Message, result.Revision
		w.FinishedAt = &result.FinishedAt
	} else if progress, ok := ProgressOf(obj); ok {
		w.Message, w.Revision = progress.Message, progress.Revision
	} else {
		// Kinds without a rollout (CronJob) are done once patched: the next run uses the new template.
		w.Outcome, w.FinishedAt, w.Message = ReasonRolloutComplete, &w.PatchedAt, "the next run uses the new template"
	}
	pods, err := l.newPods(ctx, obj, restartedAt)
	if err != nil {
		return w, err
	}
	w.Pods = pods
	return w, nil
}

// newPods lists the pods of obj made from the template restarted at restartedAt.
func (l RotationLoader) newPods(ctx context.Context, obj client.Object, restartedAt string) ([]PodReady, error) {
	selector := podSelector(obj)
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
		if pod.Annotations[AnnotationRestartedAt] != restartedAt || !pod.DeletionTimestamp.IsZero() {
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

// orderStages keeps each stage at or after the one it follows: the API
// server's times are truncated to the second.
func (r *Rotation) orderStages() {
	clamp := func(t *time.Time, after ...*time.Time) {
		for _, a := range after {
			if t != nil && a != nil && t.Before(*a) {
				*t = *a
			}
		}
	}
	clamp(r.TriggeredAt, r.VaultChangedAt)
	clamp(r.WrittenAt, r.VaultChangedAt, r.TriggeredAt)
	clamp(r.ConfirmedAt, r.WrittenAt)
	for i := range r.Workloads {
		w := &r.Workloads[i]
		for j := range w.Pods {
			clamp(w.Pods[j].ReadyAt, &w.PatchedAt)
		}
		// Pods in the order they became Ready: a pod Ready in the second of
		// the patch is moved to the patch, before one Ready the next second,
		// whatever their names.
		slices.SortStableFunc(w.Pods, func(a, b PodReady) int {
			switch {
			case a.ReadyAt == nil || b.ReadyAt == nil:
				return boolCompare(a.ReadyAt == nil, b.ReadyAt == nil)
			default:
				return a.ReadyAt.Compare(*b.ReadyAt)
			}
		})
		clamp(w.FinishedAt, &w.PatchedAt)
	}
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// explainWaiting lists what has not happened yet, and why.
func (r *Rotation) explainWaiting(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata, others []string) {
	if es != nil {
		switch {
		case secret == nil:
			r.Waiting = append(r.Waiting, fmt.Sprintf("ESO has not created Secret %s yet: %s", r.Secret, readyMessage(es)))
		case r.WrittenAt == nil:
			r.Waiting = append(r.Waiting, fmt.Sprintf("ESO has not written Secret %s since the trigger: %s", r.Secret, readyMessage(es)))
		case r.ConfirmedAt == nil:
			r.Waiting = append(r.Waiting, fmt.Sprintf("ESO has not confirmed the write in its status: %s", readyMessage(es)))
		}
	}
	for _, w := range r.Workloads {
		if w.Outcome == "" {
			r.Waiting = append(r.Waiting, fmt.Sprintf("%s/%s is rolling out: %s", strings.ToLower(w.Kind), w.Name, w.Message))
		}
	}
	r.Waiting = append(r.Waiting, others...)
}

func readyMessage(es *esv1.ExternalSecret) string {
	for _, cond := range es.Status.Conditions {
		if cond.Type == esv1.ExternalSecretReady {
			return fmt.Sprintf("Ready=%s %s %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	return "ESO has reported no status yet"
}

// esSynced reports whether ESO's status is Ready and reflects es's latest metadata.
func esSynced(es *esv1.ExternalSecret) bool {
	if es.Status.SyncedResourceVersion != ctrlutil.GetResourceVersion(es.ObjectMeta) {
		return false
	}
	for _, cond := range es.Status.Conditions {
		if cond.Type == esv1.ExternalSecretReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sourceTrace is the trace of the Secret write a workload restarts for: the
// trigger's, when eso-bridge triggered the ExternalSecret shortly before the
// write; otherwise one derived from the write itself.
func sourceTrace(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata, changedAt time.Time) trace.SpanContext {
	if sc := parseTraceparent(es.Annotations[AnnotationTraceparent]); sc.IsValid() {
		if triggered := annotationTime(es.Annotations, AnnotationTriggeredAt); triggered != nil &&
			(secret == nil || !triggered.After(changedAt) && changedAt.Sub(*triggered) < triggerWindow) {
			return sc
		}
	}
	return writeTraceOf(es, secret)
}

// writeTraceOf is the trace of the write that left secret as it is; none
// when ESO has not written it.
func writeTraceOf(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) trace.SpanContext {
	if secret == nil || secret.Annotations[ESODataHashAnnotation] == "" {
		return trace.SpanContext{}
	}
	return writeTrace(es.Namespace, secret.Name, secret.Annotations[ESODataHashAnnotation])
}

// triggerWindow bounds how long after a trigger a Secret write still counts
// as its result; a later write came from something else.
const triggerWindow = 15 * time.Minute

// latestTrace is the trace of es's latest rotation: its trigger's, unless
// ESO wrote the Secret long after it for another reason, then that write's.
func latestTrace(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) trace.SpanContext {
	if sc := parseTraceparent(es.Annotations[AnnotationTraceparent]); sc.IsValid() {
		if triggered := annotationTime(es.Annotations, AnnotationTriggeredAt); triggered != nil &&
			(secret == nil || lastWrite(secret).Sub(*triggered) < triggerWindow) {
			return sc
		}
	}
	return writeTraceOf(es, secret)
}

// annotationTime parses an RFC 3339 annotation; nil when absent or garbled.
func annotationTime(annotations map[string]string, key string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, annotations[key])
	if err != nil {
		return nil
	}
	return &t
}
