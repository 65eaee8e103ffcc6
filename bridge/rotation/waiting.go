package rotation

import (
	"fmt"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// describeOther says why a consumer is not part of the rotation.
func describeOther(kind workload.Kind, obj client.Object, template *corev1.PodTemplateSpec, r *Rotation) string {
	name := strings.ToLower(kind.Kind()) + "/" + obj.GetName()
	restarted := annotations.Time(template.Annotations, annotations.AnnotationRestartedAt)
	if restarted != nil && r.WrittenAt != nil && restarted.After(*r.WrittenAt) {
		return fmt.Sprintf("%s was restarted for another rotation (trace %s) at %s", name, traceparent.Parse(template.Annotations[annotations.AnnotationTraceparent]).TraceID(), restarted.UTC().Format(time.RFC3339))
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
