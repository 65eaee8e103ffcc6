package controlplane

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Revisions counts a workload's pod-template revisions, as `kubectl rollout
// history` lists them: ReplicaSets of a Deployment, ControllerRevisions of a
// StatefulSet or DaemonSet.
func Revisions(ctx context.Context, c client.Client, w client.Object) (int, error) {
	if err := c.Get(ctx, client.ObjectKeyFromObject(w), w); err != nil {
		return 0, err
	}
	var owners []metav1.Object
	if _, ok := w.(*appsv1.Deployment); ok {
		var list appsv1.ReplicaSetList
		if err := c.List(ctx, &list, client.InNamespace(w.GetNamespace())); err != nil {
			return 0, err
		}
		for i := range list.Items {
			owners = append(owners, &list.Items[i])
		}
	} else {
		var list appsv1.ControllerRevisionList
		if err := c.List(ctx, &list, client.InNamespace(w.GetNamespace())); err != nil {
			return 0, err
		}
		for i := range list.Items {
			owners = append(owners, &list.Items[i])
		}
	}
	n := 0
	for _, o := range owners {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.UID == w.GetUID() {
			n++
		}
	}
	return n, nil
}
