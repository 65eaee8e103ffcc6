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
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/optin"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/waves"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// WaveMode is es's wave mode: its annotation, else fallback (the --waves
// flag). An annotation that does not parse counts as absent; the
// ExternalSecret checker reports it.
func WaveMode(es *esv1.ExternalSecret, fallback annotations.WaveMode) annotations.WaveMode {
	value, ok := es.Annotations[annotations.AnnotationWaves]
	if !ok {
		return fallback
	}
	mode, err := annotations.ParseWaveMode(value)
	if err != nil {
		return fallback
	}
	return mode
}

// WaveCheck is one rotated source's waves, as they stand for one workload.
type WaveCheck struct {
	ExternalSecret *esv1.ExternalSecret
	// TraceID is the rotation's: what AnnotationResume must hold to release
	// a hold.
	TraceID string
	Verdict waves.Verdict
}

// Waves checks, for each ExternalSecret a restart of obj is for (rotated),
// whether its waves let obj restart now, and returns the first that does
// not; ok is true when every one does. selected and sources are the
// gathered sources of obj (Gathered.Selected and Gathered.Sources).
func (g *Gatherer) Waves(ctx context.Context, kinds []workload.Kind, fallback annotations.WaveMode, obj ctrl.Object,
	rotated []string, selected []*esv1.ExternalSecret, sources []gate.Source) (check WaveCheck, ok bool, err error) {
	self := workload.Key(g.Kind.Kind(), obj.GetName())
	for i, es := range selected {
		mode := WaveMode(es, fallback)
		if mode == annotations.WavesOff || !slices.Contains(rotated, es.Name) {
			continue
		}
		members, err := g.Members(ctx, kinds, es, sources[i])
		if err != nil {
			return WaveCheck{}, false, err
		}
		traceID := traceparent.Parse(sources[i].Traceparent).TraceID().String()
		verdict := waves.Check(mode, self, members, es.Annotations[annotations.AnnotationResume] == traceID)
		if !verdict.Go {
			return WaveCheck{ExternalSecret: es, TraceID: traceID, Verdict: verdict}, false, nil
		}
	}
	return WaveCheck{}, true, nil
}

// Members returns the consumers of es — the workloads of kinds in its
// namespace that have it as a source, as the gatherer selects sources —
// each judged against source, es's current source.
func (g *Gatherer) Members(ctx context.Context, kinds []workload.Kind, es *esv1.ExternalSecret, source gate.Source) ([]waves.Member, error) {
	policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
	candidate := optin.Candidate{ExternalSecret: es, Policy: policy}
	current := gate.Digest(g.Key, source)
	var members []waves.Member
	for _, kind := range kinds {
		consumers, err := g.consumers(ctx, kind, es, policy)
		if err != nil {
			return nil, err
		}
		for _, obj := range consumers {
			own := obj.GetAnnotations()
			// What the restart controller skips is no member: it never rolls.
			if ignore, err := annotations.ParseBool(own[annotations.AnnotationIgnore]); err != nil || ignore || !obj.GetDeletionTimestamp().IsZero() {
				continue
			}
			auto, _ := annotations.ParseBool(own[annotations.AnnotationAuto])
			follow, _ := annotations.ParseNameList(own[annotations.AnnotationExternalSecrets])
			used := kind.SecretsUsed(obj)
			if isSource, _ := optin.Why(kind.Kind(), obj.GetName(), used, optin.OptIn{Auto: auto, Follow: follow}, g.AutoAll, candidate); !isSource {
				continue
			}
			members = append(members, MemberOf(kind, obj, g.Key.ID(), source.Secret, current))
		}
	}
	return members, nil
}

// consumers are the workloads of kind that may have es as a source: those
// using its Secret, following it by name, or named by its rollout policy.
func (g *Gatherer) consumers(ctx context.Context, kind workload.Kind, es *esv1.ExternalSecret, policy annotations.RolloutPolicy) ([]ctrl.Object, error) {
	var found []ctrl.Object
	list := func(opts ...ctrl.ListOption) error {
		l := kind.NewList()
		if err := g.Reader.List(ctx, l, append(opts, ctrl.InNamespace(es.Namespace))...); err != nil {
			return fmt.Errorf("listing %ss: %w", kind.Kind(), err)
		}
		found = append(found, kind.Items(l)...)
		return nil
	}
	if !g.Indexed {
		// A reader without indexes lists the namespace once; Why decides.
		return found, list()
	}
	if err := list(ctrl.MatchingFields{index.SecretRefs: eso.TargetSecret(es)}); err != nil {
		return nil, err
	}
	if err := list(ctrl.MatchingFields{index.FollowedExternalSecrets: es.Name}); err != nil {
		return nil, err
	}
	for _, named := range policy.Workloads {
		if named.Kind != strings.ToLower(kind.Kind()) {
			continue
		}
		obj := kind.New()
		err := g.Reader.Get(ctx, types.NamespacedName{Namespace: es.Namespace, Name: named.Name}, obj)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading %s %s: %w", kind.Kind(), named.Name, err)
		default:
			found = append(found, obj)
		}
	}
	slices.SortFunc(found, func(a, b ctrl.Object) int { return strings.Compare(a.GetName(), b.GetName()) })
	return slices.CompactFunc(found, func(a, b ctrl.Object) bool { return a.GetName() == b.GetName() }), nil
}

// MemberOf is what obj records of the rotated Secret's data: current is the
// digest of that data now (gate.Digest), keyID the ID of the key digests
// are made with.
func MemberOf(kind workload.Kind, obj ctrl.Object, keyID, secret, current string) waves.Member {
	own := obj.GetAnnotations()
	m := waves.Member{Key: workload.Key(kind.Kind(), obj.GetName())}
	m.Wave, m.Numbered, _ = annotations.ParseWave(own[annotations.AnnotationWave])
	recorded := annotations.ParseSourceDigests(own[annotations.AnnotationSourceDigests])
	m.Current = own[annotations.AnnotationDigestKey] == keyID && recorded[secret] == current
	templateAnnotations := kind.TemplateAnnotations(obj)
	// Adopted with the current data (not restarted for it), it has no
	// rollout of this rotation to wait for.
	if !m.Current || templateAnnotations[annotations.AnnotationSourceHash] != own[annotations.AnnotationSourceHash] {
		return m
	}
	restartedAt := templateAnnotations[annotations.AnnotationRestartedAt]
	result, _ := annotations.ParseRolloutResult(own[annotations.AnnotationRolloutResult])
	switch {
	case restartedAt == "":
	case result.RestartedAt == restartedAt:
		m.Stalled = result.Outcome == events.ReasonRolloutStalled
		m.Message = result.Message
	default:
		// Kinds without a rollout (CronJob) are done once patched.
		_, hasRollout := kind.Progress(obj)
		m.Rolling = hasRollout
	}
	return m
}

// wavePoll is how often a workload waiting for an earlier wave looks again
// if nothing wakes it: the progress of the earlier waves does (waveProgress),
// so this only bounds what a missed event could delay.
const wavePoll = 30 * time.Second

// waitForWaves keeps back a restart the gate allowed until the waves of the
// rotations it is for let the workload go; held is true while they do not.
// A halt — an earlier wave's rollout stalled — is reported on the workload
// and on the ExternalSecret, and waits for a new rotation or a resume,
// either of which wakes the workload.
func (r *Reconciler) waitForWaves(ctx context.Context, obj ctrl.Object, decision gate.Decision, gathered Gathered) (result reconcile.Result, held bool, err error) {
	g := r.gatherer()
	check, ok, err := g.Waves(ctx, r.kinds(), r.Options.Waves, obj, decision.Rotated, gathered.Selected, gathered.Sources)
	if err != nil || ok {
		return reconcile.Result{}, !ok, err
	}
	v, es := check.Verdict, check.ExternalSecret
	if !v.Halted {
		log.FromContext(ctx).V(levelDebug).Info("waiting for an earlier wave", "externalSecret", es.Name, "message", v.Message)
		return reconcile.Result{RequeueAfter: wavePoll}, true, nil
	}
	resume := fmt.Sprintf("a new rotation of it restarts the stalled workload first; to go on as it is: kubectl annotate externalsecret %s %s=%s --overwrite -n %s",
		es.Name, annotations.AnnotationResume, check.TraceID, es.Namespace)
	if r.Recorder.Warning(obj, es, waves.ReasonHalted, events.ActionGate, fmt.Sprintf("ExternalSecret %s rotated, but %s; %s", es.Name, v.Message, resume)) {
		r.Metrics.Holds.WithLabelValues(waves.ReasonHalted).Inc()
	}
	var stalled []string
	for _, m := range v.Blocking {
		stalled = append(stalled, m.Key)
	}
	r.Recorder.Warning(es, nil, waves.ReasonHalted, events.ActionGate, fmt.Sprintf("rotation (trace %s) held after wave %d of %d: the rollout of %s stalled, and the later waves keep their pods; %s",
		check.TraceID, v.Wave-1, v.Waves, strings.Join(stalled, ", "), resume))
	return reconcile.Result{}, true, nil
}

// kinds are the workload kinds a rotation's waves span.
func (r *Reconciler) kinds() []workload.Kind {
	if len(r.Kinds) == 0 {
		return []workload.Kind{r.Kind}
	}
	return r.Kinds
}
