package restart

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
)

// restartAnnotations are the pod-template annotations of a restart: the
// source hash, the time, and the trace and write time of the newest source's
// rotation (several sources rotated together restart once, in the newest
// one's trace).
func (r *Reconciler) restartAnnotations(hash string, sources []gate.Source) map[string]string {
	restart := map[string]string{
		annotations.AnnotationSourceHash:  hash,
		annotations.AnnotationRestartedAt: annotations.FormatTime(r.Clock.Now()),
	}
	var newest *gate.Source
	for i := range sources {
		if sources[i].Traceparent != "" && (newest == nil || sources[i].ChangedAt.After(newest.ChangedAt)) {
			newest = &sources[i]
		}
	}
	if newest != nil {
		restart[annotations.AnnotationTraceparent] = newest.Traceparent
		restart[annotations.AnnotationWrittenAt] = annotations.FormatTime(newest.ChangedAt)
	}
	return restart
}

// patch records the decision's hash and digests on the workload; with
// restart annotations it also changes the pod template, which rolls the
// pods. The optimistic lock makes a stale cache fail with a conflict instead
// of restarting twice.
func (r *Reconciler) patch(ctx context.Context, obj ctrl.Object, decision gate.Decision, restart map[string]string) error {
	base := obj.DeepCopyObject().(ctrl.Object)
	annotations.Set(obj, annotations.AnnotationSourceHash, decision.Hash)
	annotations.Set(obj, annotations.AnnotationSourceDigests, annotations.FormatSourceDigests(decision.Digests))
	annotations.Set(obj, annotations.AnnotationDigestKey, r.Key.ID())
	if restart != nil {
		if err := r.Kind.AnnotateTemplate(obj, restart); err != nil {
			return fmt.Errorf("annotating the pod template: %w", err)
		}
	}
	return r.Client.Patch(ctx, obj, ctrl.MergeFromWithOptions(base, ctrl.MergeFromWithOptimisticLock{}))
}
