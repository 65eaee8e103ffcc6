package controlplane

import (
	"context"
	"fmt"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// pollInterval is how often the waits below look at the cluster.
const pollInterval = 100 * time.Millisecond

// SyncedFor reports whether ESO's status confirms a sync of the ExternalSecret
// as it is now: Ready=True with reason SecretSynced, and a
// syncedResourceVersion computed — with ESO's own function — from the current
// generation, labels and annotations. ESO writes the Secret before its status,
// so only this proves that ESO has processed the latest change to the ES.
func SyncedFor(es *esv1.ExternalSecret) (bool, string) {
	ready := readyCondition(es)
	switch {
	case ready == nil:
		return false, "ESO has not reported a Ready condition yet"
	case ready.Status != corev1.ConditionTrue || ready.Reason != esv1.ConditionReasonSecretSynced:
		return false, fmt.Sprintf("Ready=%s reason %s: %s", ready.Status, ready.Reason, ready.Message)
	case es.Status.SyncedResourceVersion != ctrlutil.GetResourceVersion(es.ObjectMeta):
		return false, "ESO's status reflects an older version of the ExternalSecret's metadata"
	}
	return true, "synced"
}

func readyCondition(es *esv1.ExternalSecret) *esv1.ExternalSecretStatusCondition {
	for i := range es.Status.Conditions {
		if es.Status.Conditions[i].Type == esv1.ExternalSecretReady {
			return &es.Status.Conditions[i]
		}
	}
	return nil
}

// WaitForSync waits until ESO has synced the ExternalSecret as it is now (see
// SyncedFor) and returns it. The error says what ESO last reported.
func WaitForSync(ctx context.Context, c client.Client, key client.ObjectKey) (*esv1.ExternalSecret, error) {
	es := &esv1.ExternalSecret{}
	reason := "not read yet"
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, es); err != nil {
			reason = err.Error()
			return false, nil
		}
		var done bool
		done, reason = SyncedFor(es)
		return done, nil
	})
	if err != nil {
		return nil, fmt.Errorf("ExternalSecret %s not synced: %s (%w)", key, reason, err)
	}
	return es, nil
}

// WaitForRollout waits until a Deployment, StatefulSet or DaemonSet has rolled
// out completely, by the same rules as `kubectl rollout status`: the
// controller has observed the latest generation and every replica is updated
// and available.
func WaitForRollout(ctx context.Context, c client.Client, workload client.Object) error {
	gvk, err := apiutil.GVKForObject(workload, c.Scheme())
	if err != nil {
		return err
	}
	viewer, err := polymorphichelpers.StatusViewerFor(gvk.GroupKind())
	if err != nil {
		return err
	}
	current := &unstructured.Unstructured{}
	current.SetGroupVersionKind(gvk)
	status := "not read yet"
	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(workload), current); err != nil {
			status = err.Error()
			return false, nil
		}
		var done bool
		status, done, err = viewer.Status(current, 0)
		if err != nil {
			status = err.Error()
			return false, nil
		}
		return done, nil
	})
	if err != nil {
		return fmt.Errorf("%s %s did not finish rolling out: %s (%w)", gvk.Kind, client.ObjectKeyFromObject(workload), status, err)
	}
	return nil
}
