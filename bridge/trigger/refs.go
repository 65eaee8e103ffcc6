package trigger

import (
	"context"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/providers"
)

// refsFor returns the remote secrets es reads, as its vault says, through
// the store it names; none while the store does not exist, and none through a
// ClusterSecretStore whose conditions do not admit es's namespace (ESO
// refuses it, and eso-bridge must not read for it what ESO would not).
func (t *VaultTrigger) refsFor(ctx context.Context, es *esv1.ExternalSecret) ([]providers.Ref, error) {
	var spec *esv1.SecretStoreSpec
	ref := es.Spec.SecretStoreRef
	switch ref.Kind {
	case esv1.ClusterSecretStoreKind:
		store := &esv1.ClusterSecretStore{}
		if err := t.Client.Get(ctx, types.NamespacedName{Name: ref.Name}, store); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		if len(store.Spec.Conditions) > 0 {
			namespace := &corev1.Namespace{}
			if err := t.Client.Get(ctx, types.NamespacedName{Name: es.Namespace}, namespace); err != nil {
				return nil, client.IgnoreNotFound(err)
			}
			admitted, err := eso.StoreAdmits(store, namespace)
			if err != nil {
				// A store ESO cannot apply either; its next edit retries.
				return nil, reconcile.TerminalError(err)
			}
			if !admitted {
				return nil, nil
			}
		}
		spec = &store.Spec
	default:
		store := &esv1.SecretStore{}
		if err := t.Client.Get(ctx, types.NamespacedName{Namespace: es.Namespace, Name: ref.Name}, store); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		spec = &store.Spec
	}
	return t.Vault.Refs(es, spec), nil
}

// record replaces what es reads, and the set the source follows.
func (t *VaultTrigger) record(es types.NamespacedName, refs []providers.Ref) {
	t.mu.Lock()
	for _, old := range t.refsOf[es] {
		delete(t.readers[old], es)
		if len(t.readers[old]) == 0 {
			delete(t.readers, old)
		}
	}
	if len(refs) == 0 {
		delete(t.refsOf, es)
	} else {
		t.refsOf[es] = refs
		for _, r := range refs {
			if t.readers[r] == nil {
				t.readers[r] = map[types.NamespacedName]bool{}
			}
			t.readers[r][es] = true
		}
	}
	all := make([]providers.Ref, 0, len(t.readers))
	for r := range t.readers {
		all = append(all, r)
	}
	t.mu.Unlock()
	t.Vault.Watch(all)
}
