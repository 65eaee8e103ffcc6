package rotation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// restartedSince reports whether the template was restarted after the
// rotation's write (for another rotation).
func restartedSince(templateAnnotations map[string]string, r *Rotation) bool {
	restarted := annotations.Time(templateAnnotations, annotations.AnnotationRestartedAt)
	return restarted != nil && r.WrittenAt != nil && restarted.After(*r.WrittenAt)
}

// describeOther says why a consumer is not part of the rotation.
func describeOther(kind workload.Kind, obj client.Object, templateAnnotations map[string]string, r *Rotation) string {
	name := strings.ToLower(kind.Kind()) + "/" + obj.GetName()
	if restartedSince(templateAnnotations, r) {
		restarted := annotations.Time(templateAnnotations, annotations.AnnotationRestartedAt)
		return fmt.Sprintf("%s was restarted for another rotation (trace %s) at %s", name, traceparent.Parse(templateAnnotations[annotations.AnnotationTraceparent]).TraceID(), restarted.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s uses the Secret but was not restarted for this rotation: its other sources may be waiting, its restart may be held, or it has not opted in (see its Events)", name)
}

// explainWaiting lists what has not happened yet, and why.
func (r *Rotation) explainWaiting(es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata, others []string) {
	if es != nil {
		switch {
		case secret == nil:
			r.Waiting = append(r.Waiting, fmt.Sprintf("ESO has not created Secret %s yet: %s", r.Secret, eso.ReadyMessage(es)))
		case r.WrittenAt == nil:
			r.Waiting = append(r.Waiting, fmt.Sprintf("ESO has not written Secret %s since the trigger: %s", r.Secret, eso.ReadyMessage(es)))
		case r.ConfirmedAt == nil:
			r.Waiting = append(r.Waiting, fmt.Sprintf("ESO has not confirmed the write in its status: %s", eso.ReadyMessage(es)))
		}
	}
	for _, w := range r.Workloads {
		if w.Outcome == "" {
			r.Waiting = append(r.Waiting, fmt.Sprintf("%s/%s is rolling out: %s", strings.ToLower(w.Kind), w.Name, w.Message))
		}
	}
	r.Waiting = append(r.Waiting, others...)
}

// unsettledSources says, for each ExternalSecret whose Secret obj's pod
// template uses, what keeps it from counting as synced: its Secret not
// written, ESO not Ready, or ESO's status not yet reflecting its latest
// change — what the gate waits on or holds for. Read from the cluster, as
// the gate reads it.
func (f *lookup) unsettledSources(ctx context.Context, kind workload.Kind, obj client.Object) ([]string, error) {
	var unsettled []string
	for _, name := range kind.SecretsUsed(obj) {
		writers, err := f.writers(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, es := range writers {
			secret, err := f.secret(ctx, es)
			if err != nil {
				return nil, err
			}
			ready := eso.Ready(es)
			switch {
			case secret == nil || secret.Annotations[eso.DataHashAnnotation] == "":
				unsettled = append(unsettled, fmt.Sprintf("ExternalSecret %s has not written Secret %s (%s)", es.Name, eso.TargetSecret(es), eso.ReadyMessage(es)))
			case ready == nil || ready.Status != corev1.ConditionTrue:
				unsettled = append(unsettled, fmt.Sprintf("ExternalSecret %s is not Ready (%s)", es.Name, eso.ReadyMessage(es)))
			case !eso.StatusReflectsSpec(es) && eso.NoRefresh(es) == "":
				unsettled = append(unsettled, fmt.Sprintf("ExternalSecret %s: ESO has not synced its latest change yet", es.Name))
			}
		}
	}
	slices.Sort(unsettled)
	return unsettled, nil
}

// outsideWindow says, for a consumer of es not restarted for r, whether
// its restart waits for its restart window, and records on r the restart
// to come. The windows are judged for es alone: those of the consumer's
// other sources, which may rotate with it, are not read.
func (f *lookup) outsideWindow(r *Rotation, kind workload.Kind, obj client.Object, es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) (string, bool) {
	if f.Key == nil || secret == nil {
		return "", false
	}
	check := restart.CheckWindow(time.Now(), obj, []string{es.Name}, []*esv1.ExternalSecret{es}, f.RestartWindow)
	if check.Open {
		return "", false
	}
	source := gate.Source{ExternalSecret: es.Name, Secret: eso.TargetSecret(es), DataHash: secret.Annotations[eso.DataHashAnnotation]}
	if restart.MemberOf(kind, obj, f.Key.ID(), source.Secret, gate.Digest(*f.Key, source)).Current {
		return "", false
	}
	r.restartsToCome++
	return check.Message(), true
}
