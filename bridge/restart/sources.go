package restart

import (
	"context"
	"fmt"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/optin"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// gatherSources reads what the gate needs about each ExternalSecret the
// workload follows. Bad annotations get a Warning and count as absent.
func (r *Reconciler) gatherSources(ctx context.Context, obj ctrl.Object) ([]gate.Source, error) {
	own := obj.GetAnnotations()
	auto, err := annotations.ParseBool(own[annotations.AnnotationAuto])
	if err != nil {
		r.invalid(obj, nil, annotations.AnnotationAuto, err)
	}
	follow, err := annotations.ParseNameList(own[annotations.AnnotationExternalSecrets])
	if err != nil {
		r.invalid(obj, nil, annotations.AnnotationExternalSecrets, err)
	}
	used := workload.SecretsUsedBy(r.Kind.PodTemplate(obj))
	externalSecrets, err := r.candidates(ctx, obj, used, follow)
	if err != nil {
		return nil, err
	}
	candidates := make([]optin.Candidate, 0, len(externalSecrets))
	for _, es := range externalSecrets {
		// A policy that does not parse is off here; the ExternalSecret checker
		// reports it on the ExternalSecret itself.
		policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
		candidates = append(candidates, optin.Candidate{ExternalSecret: es, Policy: policy})
	}
	selected, missing := optin.SelectSources(r.Kind.Kind(), obj.GetName(), used, optin.OptIn{Auto: auto, Follow: follow}, r.Options.AutoAll, candidates)
	if len(missing) > 0 {
		// One Warning names them all: Events about one object with one
		// reason fold into the first.
		r.Metrics.InvalidAnnotations.WithLabelValues(r.Kind.Kind()).Inc()
		r.Recorder.Warning(obj, nil, events.ReasonMissingReference, events.ValidateAction(annotations.AnnotationExternalSecrets),
			fmt.Sprintf("annotation %s names ExternalSecret(s) %s, which do not exist in namespace %s", annotations.AnnotationExternalSecrets, strings.Join(missing, ", "), obj.GetNamespace()))
	}
	sources := make([]gate.Source, 0, len(selected))
	for _, es := range selected {
		source, err := r.source(ctx, es)
		if err != nil {
			return nil, err
		}
		sources = append(sources, source)
	}
	confirmSharedWrites(sources, selected)
	return sources, nil
}

// confirmSharedWrites settles a Secret that several ExternalSecrets write
// (each merging its keys into it): ESO's status confirms a write only for
// the ExternalSecret that made it, and the others' statuses are from before
// it, though they have nothing left to sync. The write is confirmed once one
// writer's status follows it; then every writer whose status reflects its
// latest metadata (not itself refreshing) counts as current. sources[i] is
// externalSecrets[i]'s.
func confirmSharedWrites(sources []gate.Source, externalSecrets []*esv1.ExternalSecret) {
	confirmed := map[string]bool{}
	for _, s := range sources {
		if s.StatusCurrent {
			confirmed[s.Secret] = true
		}
	}
	for i := range sources {
		if !sources[i].StatusCurrent && confirmed[sources[i].Secret] && eso.StatusReflectsSpec(externalSecrets[i]) {
			sources[i].StatusCurrent = true
		}
	}
}

// candidates are the ExternalSecrets of the workload's namespace that can be
// its sources: those writing a Secret its pod template uses, those it
// follows by name, and those whose rollout annotation names it. They are
// found through indexes, not by listing the namespace: with thousands of
// ExternalSecrets a list (a deep copy of each) per reconcile cost more CPU
// than everything else together (the scale benchmark found it).
func (r *Reconciler) candidates(ctx context.Context, obj ctrl.Object, used, follow []string) ([]*esv1.ExternalSecret, error) {
	namespace := obj.GetNamespace()
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
		if err := add(index.TargetSecret, secret); err != nil {
			return nil, err
		}
	}
	if err := add(index.RolloutWorkloads, workload.Key(r.Kind.Kind(), obj.GetName())); err != nil {
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
func (r *Reconciler) source(ctx context.Context, es *esv1.ExternalSecret) (gate.Source, error) {
	s := gate.Source{ExternalSecret: es.Name, Secret: eso.TargetSecret(es), Since: es.CreationTimestamp.Time}
	if cond := eso.Ready(es); cond != nil {
		s.Ready = cond.Status == corev1.ConditionTrue && cond.Reason == esv1.ConditionReasonSecretSynced
		s.Reason, s.Message = cond.Reason, cond.Message
	}
	if r.Versions != nil {
		s.PendingVersion = r.Versions.Pending(es)
	}
	secret := eso.SecretMetadata()
	key := types.NamespacedName{Namespace: es.Namespace, Name: s.Secret}
	if err := r.Client.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return s, nil
		}
		return s, fmt.Errorf("reading Secret %s metadata: %w", key, err)
	}
	s.SecretFound = true
	s.DataHash = secret.Annotations[eso.DataHashAnnotation]
	written := eso.LastWrite(secret)
	// ESO's status confirms the write it follows: the write eso-bridge saw
	// bring the data-hash, or else the Secret's latest write.
	writeVersion := secret.ResourceVersion
	if seen, ok := r.Writes.WriteResourceVersion(key, s.DataHash); ok {
		writeVersion = seen
	}
	confirmed, exact := eso.StatusWrittenAfter(es, writeVersion)
	if !exact {
		// An API server whose resource versions are not numbers: the
		// times it records, to the second.
		confirmed = !eso.StatusWritten(es).Before(written)
	}
	// ESO never syncs again an ExternalSecret it does not refresh: a status
	// that no longer reflects its metadata is still that of its only sync.
	s.StatusCurrent = (eso.StatusReflectsSpec(es) || eso.NoRefresh(es) != "") && confirmed
	if seen, ok := r.Writes.SeenAt(key, s.DataHash); ok {
		s.ChangedAt = seen
	} else {
		// The API server's record is truncated to the second: take its end.
		s.ChangedAt = written.Add(time.Second)
	}
	s.Traceparent = traceparent.Format(traceparent.ForSource(r.Key, es, secret, s.ChangedAt))
	return s, nil
}
