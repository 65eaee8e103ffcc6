package restart

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/gate"
)

// markPodsOlder marks the sources of a workload seen for the first time
// whose Secret ESO wrote after one of the workload's running containers
// started: the workload was created, or opted in, while eso-bridge was not
// watching, and its pods may hold what the Secret held before. Only writes
// made since eso-bridge was installed count, so that an install does not
// restart every workload older than its Secrets' last sync. The pods are
// read live, once per workload seen for the first time.
func (r *Reconciler) markPodsOlder(ctx context.Context, obj ctrl.Object, sources []gate.Source) error {
	var candidates []int
	for i, s := range sources {
		// ChangedAt is the write's second plus one when eso-bridge did not
		// see it: a container must have started before that second.
		if s.SecretFound && s.DataHash != "" && s.ChangedAt.Add(-time.Second).After(r.InstalledAt) {
			candidates = append(candidates, i)
		}
	}
	selector := r.Kind.PodSelector(obj)
	if r.Pods == nil || r.InstalledAt.IsZero() || selector == nil || len(candidates) == 0 {
		return nil
	}
	oldest, err := r.oldestContainerStart(ctx, obj, selector)
	if err != nil || oldest.IsZero() {
		return err
	}
	for _, i := range candidates {
		sources[i].PodsOlder = oldest.Before(sources[i].ChangedAt.Add(-time.Second))
	}
	return nil
}

// oldestContainerStart is when the oldest running container of the
// workload's pods started; zero when none runs yet (a pod that starts now
// reads the Secret as it is).
func (r *Reconciler) oldestContainerStart(ctx context.Context, obj ctrl.Object, selector *metav1.LabelSelector) (time.Time, error) {
	labels, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the pod selector: %w", err)
	}
	var pods corev1.PodList
	if err := r.Pods.List(ctx, &pods, ctrl.InNamespace(obj.GetNamespace()), ctrl.MatchingLabelsSelector{Selector: labels}); err != nil {
		return time.Time{}, fmt.Errorf("listing the pods of %s: %w", obj.GetName(), err)
	}
	var oldest time.Time
	for _, pod := range pods.Items {
		if !pod.DeletionTimestamp.IsZero() {
			continue
		}
		for _, c := range pod.Status.ContainerStatuses {
			if c.State.Running == nil {
				continue
			}
			if started := c.State.Running.StartedAt.Time; oldest.IsZero() || started.Before(oldest) {
				oldest = started
			}
		}
	}
	return oldest, nil
}
