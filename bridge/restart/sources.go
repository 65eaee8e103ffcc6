package restart

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/optin"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/window"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// Gatherer reads what the gate decides on about one workload — the
// ExternalSecrets it follows, each with its Secret's metadata and ESO's
// status — for the restart controller and for `eso-bridge explain`, so that
// both decide on the same input.
type Gatherer struct {
	Reader ctrl.Reader
	Kind   workload.Kind
	// AutoAll is --auto-all.
	AutoAll bool
	// Versions is nil when no vault versions are known.
	Versions PendingVersions
	// Writes is nil when eso-bridge has seen no write (the Secret's own
	// record is used).
	Writes *WriteObserver
	Key    digest.Key
	// Indexed says Reader is the manager's cache with the index package's
	// fields; otherwise candidates are found by listing the namespace.
	Indexed bool
}

// Gathered is a workload's sources and how they were found.
type Gathered struct {
	// Used are the Secrets the pod template reads.
	Used  []string
	OptIn optin.OptIn
	// Candidates are the ExternalSecrets that could be sources.
	Candidates []optin.Candidate
	// Selected are the sources' ExternalSecrets; Sources[i] is Selected[i]'s.
	Selected []*esv1.ExternalSecret
	Sources  []gate.Source
	// Missing are the followed names that match no ExternalSecret.
	Missing []string
	// Invalid are the workload's opt-in annotations that did not parse (they
	// count as absent), by annotation.
	Invalid map[string]error
}

// Gather reads the sources of obj. Bad annotations count as absent and are
// returned in Invalid.
func (g *Gatherer) Gather(ctx context.Context, obj ctrl.Object) (Gathered, error) {
	own := obj.GetAnnotations()
	var out Gathered
	var err error
	out.Invalid = map[string]error{}
	if out.OptIn.Auto, err = annotations.ParseBool(own[annotations.AnnotationAuto]); err != nil {
		out.Invalid[annotations.AnnotationAuto] = err
	}
	if out.OptIn.Follow, err = annotations.ParseNameList(own[annotations.AnnotationExternalSecrets]); err != nil {
		out.Invalid[annotations.AnnotationExternalSecrets] = err
	}
	if _, _, err := annotations.ParseWave(own[annotations.AnnotationWave]); err != nil {
		// Counted as unnumbered: last in an ordered rotation.
		out.Invalid[annotations.AnnotationWave] = err
	}
	if _, err := window.Parse(own[annotations.AnnotationRestartWindow]); err != nil {
		// Counted as absent: the ExternalSecrets' windows, else the flag's.
		out.Invalid[annotations.AnnotationRestartWindow] = err
	}
	out.Used = g.Kind.SecretsUsed(obj)
	externalSecrets, err := g.candidates(ctx, obj, out.Used, out.OptIn.Follow)
	if err != nil {
		return out, err
	}
	for _, es := range externalSecrets {
		// A policy that does not parse is off here; the ExternalSecret checker
		// reports it on the ExternalSecret itself.
		policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
		out.Candidates = append(out.Candidates, optin.Candidate{ExternalSecret: es, Policy: policy})
	}
	out.Selected, out.Missing = optin.SelectSources(g.Kind.Kind(), obj.GetName(), out.Used, out.OptIn, g.AutoAll, out.Candidates)
	out.Sources = make([]gate.Source, 0, len(out.Selected))
	for _, es := range out.Selected {
		source, err := g.source(ctx, es)
		if err != nil {
			return out, err
		}
		out.Sources = append(out.Sources, source)
	}
	confirmSharedWrites(out.Sources, out.Selected)
	return out, nil
}

// PolicyAnnotations are the workload annotations Gather validates, in the
// order their problems are reported.
var PolicyAnnotations = []string{annotations.AnnotationAuto, annotations.AnnotationExternalSecrets, annotations.AnnotationWave, annotations.AnnotationRestartWindow}

// gatherSources reads what the gate needs about each ExternalSecret the
// workload follows. Bad annotations get a Warning and count as absent.
func (r *Reconciler) gatherSources(ctx context.Context, obj ctrl.Object) (Gathered, error) {
	gathered, err := r.gatherer().Gather(ctx, obj)
	if err != nil {
		return gathered, err
	}
	for _, annotation := range PolicyAnnotations {
		if err := gathered.Invalid[annotation]; err != nil {
			r.invalid(obj, nil, annotation, err)
		}
	}
	if len(gathered.Missing) > 0 {
		// One Warning names them all: Events about one object with one
		// reason fold into the first.
		r.Metrics.InvalidAnnotations.WithLabelValues(r.Kind.Kind()).Inc()
		r.Recorder.Warning(obj, nil, events.ReasonMissingReference, events.ValidateAction(annotations.AnnotationExternalSecrets),
			fmt.Sprintf("annotation %s names ExternalSecret(s) %s, which do not exist in namespace %s", annotations.AnnotationExternalSecrets, strings.Join(gathered.Missing, ", "), obj.GetNamespace()))
	}
	return gathered, nil
}

// gatherer is the restart controller's: the cache, with its indexes.
func (r *Reconciler) gatherer() *Gatherer {
	return &Gatherer{Reader: r.Client, Kind: r.Kind, AutoAll: r.Options.AutoAll, Versions: r.Versions, Writes: r.Writes, Key: r.Key, Indexed: true}
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
// follows by name, and those whose rollout annotation names it. In the
// cache they are found through indexes, not by listing the namespace: with
// thousands of ExternalSecrets a list (a deep copy of each) per reconcile
// cost more CPU than everything else together (the scale benchmark found
// it). A reader without the indexes (the CLI) lists the namespace once.
func (g *Gatherer) candidates(ctx context.Context, obj ctrl.Object, used, follow []string) ([]*esv1.ExternalSecret, error) {
	namespace := obj.GetNamespace()
	if !g.Indexed {
		return g.listCandidates(ctx, obj, used, follow)
	}
	found := map[string]*esv1.ExternalSecret{}
	add := func(field, value string) error {
		var list esv1.ExternalSecretList
		if err := g.Reader.List(ctx, &list, ctrl.InNamespace(namespace), ctrl.MatchingFields{field: value}); err != nil {
			return fmt.Errorf("listing ExternalSecrets by %s: %w", field, err)
		}
		for i := range list.Items {
			found[list.Items[i].Name] = &list.Items[i]
		}
		return nil
	}
	for _, secret := range used {
		writers, err := index.Writers(ctx, g.Reader, namespace, secret, false)
		if err != nil {
			return nil, err
		}
		for _, es := range writers {
			found[es.Name] = es
		}
	}
	if err := add(index.RolloutWorkloads, workload.Key(g.Kind.Kind(), obj.GetName())); err != nil {
		return nil, err
	}
	for _, name := range follow {
		if _, ok := found[name]; ok {
			continue
		}
		es := &esv1.ExternalSecret{}
		err := g.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, es)
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

// listCandidates is candidates for a reader without indexes: the
// namespace's ExternalSecrets that the indexes would have found.
func (g *Gatherer) listCandidates(ctx context.Context, obj ctrl.Object, used, follow []string) ([]*esv1.ExternalSecret, error) {
	var list esv1.ExternalSecretList
	if err := g.Reader.List(ctx, &list, ctrl.InNamespace(obj.GetNamespace())); err != nil {
		return nil, fmt.Errorf("listing ExternalSecrets: %w", err)
	}
	var out []*esv1.ExternalSecret
	for i := range list.Items {
		es := &list.Items[i]
		policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
		if slices.Contains(used, eso.TargetSecret(es)) || slices.Contains(follow, es.Name) || policy.Includes(g.Kind.Kind(), obj.GetName()) {
			out = append(out, es)
		}
	}
	return out, nil
}

// source reads one ExternalSecret's Secret — metadata only — and status.
func (g *Gatherer) source(ctx context.Context, es *esv1.ExternalSecret) (gate.Source, error) {
	s := gate.Source{ExternalSecret: es.Name, Secret: eso.TargetSecret(es), Since: es.CreationTimestamp.Time}
	s.Ready, s.Reason, s.Message = eso.ReadyState(es)
	if g.Versions != nil {
		s.PendingVersion = g.Versions.Pending(es)
	}
	secret := eso.SecretMetadata()
	key := types.NamespacedName{Namespace: es.Namespace, Name: s.Secret}
	if err := g.Reader.Get(ctx, key, secret); err != nil {
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
	if seen, ok := g.Writes.WriteResourceVersion(key, s.DataHash); ok {
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
	if seen, ok := g.Writes.SeenAt(key, s.DataHash); ok {
		s.ChangedAt = seen
	} else {
		// The API server's record is truncated to the second: take its end.
		s.ChangedAt = written.Add(time.Second)
	}
	s.Traceparent = traceparent.Format(traceparent.ForSource(g.Key, es, secret, s.ChangedAt))
	return s, nil
}
