package trigger

import (
	"context"
	"fmt"
	"maps"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// triggerTemplate triggers the ExternalSecrets a ClusterExternalSecret
// generates by writing the trigger into the annotations of its template
// (spec.externalSecretMetadata): ESO's ClusterExternalSecret controller
// copies them to every generated ExternalSecret, and ESO refreshes each.
// Written on the ExternalSecret itself, they would be wiped on the
// ClusterExternalSecret's next reconcile — a change that makes ESO refresh
// again — and written again, without end.
//
// Every generated ExternalSecret reads the same secrets through the same
// ClusterSecretStore, so the first one reconciled after a move writes the
// trigger and the others find it already there: one write per vault version,
// one refresh per ExternalSecret. The write is conditional on the
// ClusterExternalSecret's resourceVersion, so a cache that has not seen the
// last trigger yet cannot write a second one. It reports whether it wrote.
func (t *VaultTrigger) triggerTemplate(ctx context.Context, name string, target triggerTarget, now time.Time) (bool, error) {
	ces := &esv1.ClusterExternalSecret{}
	if err := t.Client.Get(ctx, types.NamespacedName{Name: name}, ces); err != nil {
		// Gone: ESO deletes what it generated.
		return false, client.IgnoreNotFound(err)
	}
	template := ces.Spec.ExternalSecretMetadata.Annotations
	if template[annotations.AnnotationVaultVersions] == target.versions {
		return false, nil
	}
	patch := client.MergeFromWithOptions(ces.DeepCopy(), client.MergeFromWithOptimisticLock{})
	template = maps.Clone(template)
	if template == nil {
		template = map[string]string{}
	}
	target.write(template, now)
	ces.Spec.ExternalSecretMetadata.Annotations = template
	if err := t.Client.Patch(ctx, ces, patch); err != nil {
		// A conflict is retried from the cache once it holds the newer
		// object, which may already carry this very trigger.
		return false, fmt.Errorf("triggering ClusterExternalSecret %s: %w", name, err)
	}
	log.FromContext(ctx).Info("triggered ESO refresh through the ClusterExternalSecret", "clusterExternalSecret", name,
		"versions", target.versions, "traceID", target.rotation.TraceID().String())
	return true, nil
}
