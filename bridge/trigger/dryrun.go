package trigger

import (
	"context"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
)

// lastTriggered is the vault versions es was last triggered for: its
// annotation, or in a dry run the versions a trigger would have written.
func (t *VaultTrigger) lastTriggered(es *esv1.ExternalSecret) string {
	if t.DryRun {
		t.mu.Lock()
		versions, ok := t.wouldHaveWritten[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}]
		t.mu.Unlock()
		if ok {
			return versions
		}
	}
	return es.Annotations[annotations.AnnotationVaultVersions]
}

// wouldTrigger logs the trigger a run that is not dry would write, and
// remembers it, so that the same versions are neither logged again nor
// waited for by the gate: in a dry run ESO fetches them at its own
// refreshInterval, and the gate waits for that write.
func (t *VaultTrigger) wouldTrigger(ctx context.Context, key types.NamespacedName, es *esv1.ExternalSecret, target triggerTarget) {
	t.mu.Lock()
	if t.wouldHaveWritten == nil {
		t.wouldHaveWritten = map[types.NamespacedName]string{}
	}
	t.wouldHaveWritten[key] = target.versions
	t.mu.Unlock()
	through := "ExternalSecret"
	if ces := eso.GeneratedBy(es); ces != "" {
		through = "ClusterExternalSecret " + ces
	}
	log.FromContext(ctx).Info("would trigger ESO refresh (dry run: nothing written)", "through", through, "versions", target.versions)
}
