package controlplane

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Revisions is a workload's latest pod-template revision number, as `kubectl
// rollout history` numbers them: each new template is one more. The number
// is read from the newest revision, not counted, because old ReplicaSets and
// ControllerRevisions are pruned past the revision history limit (10).
// A CronJob has none: 0.
func Revisions(ctx context.Context, c client.Client, w client.Object) (int, error) {
	if err := c.Get(ctx, client.ObjectKeyFromObject(w), w); err != nil {
		return 0, err
	}
	if deployment, ok := w.(*appsv1.Deployment); ok {
		// The Deployment controller numbers its ReplicaSets here.
		n, _ := strconv.Atoi(deployment.Annotations["deployment.kubernetes.io/revision"])
		return n, nil
	}
	var list appsv1.ControllerRevisionList
	if err := c.List(ctx, &list, client.InNamespace(w.GetNamespace())); err != nil {
		return 0, err
	}
	newest := int64(0)
	for i := range list.Items {
		if ref := metav1.GetControllerOf(&list.Items[i]); ref != nil && ref.UID == w.GetUID() {
			newest = max(newest, list.Items[i].Revision)
		}
	}
	return int(newest), nil
}
