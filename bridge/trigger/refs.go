package trigger

import (
	"context"
	"slices"

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

// record replaces what es reads, and tells the source the refs that gained
// their first reader or lost their last: the work is proportional to es,
// not to every ExternalSecret followed.
func (t *VaultTrigger) record(es types.NamespacedName, refs []providers.Ref) {
	handles := make([]providers.Handle, len(refs))
	for i, r := range refs {
		handles[i] = r.Handle()
	}
	t.mu.Lock()
	var added, dropped []providers.Handle
	for _, old := range t.refsOf[es] {
		t.readers[old] = slices.DeleteFunc(t.readers[old], func(n types.NamespacedName) bool { return n == es })
		if len(t.readers[old]) == 0 {
			delete(t.readers, old)
			delete(t.patterns, old)
			dropped = append(dropped, old)
		}
	}
	if len(handles) == 0 {
		delete(t.refsOf, es)
	} else {
		t.refsOf[es] = handles
		for _, h := range handles {
			if len(t.readers[h]) == 0 {
				if h.Value().IsPattern() {
					t.patterns[h] = true
				}
				// Read again at once: not a change to the source.
				if i := slices.Index(dropped, h); i >= 0 {
					dropped = slices.Delete(dropped, i, i+1)
				} else {
					added = append(added, h)
				}
			}
			if !slices.Contains(t.readers[h], es) {
				t.readers[h] = append(t.readers[h], es)
			}
		}
	}
	t.forgetMoved(dropped)
	t.mu.Unlock()
	if len(added) > 0 || len(dropped) > 0 {
		t.Vault.Follow(refsOf(added), refsOf(dropped))
	}
}

// forgetMoved drops the moves seen of the secrets of dropped that no
// ExternalSecret reads any more, by name or through a pattern: a secret read
// again later is new, and a move made before its new reader existed is not
// one to trigger it for (ESO fetches a new ExternalSecret's data itself).
// t.mu must be held.
func (t *VaultTrigger) forgetMoved(dropped []providers.Handle) {
	for _, h := range dropped {
		ref := h.Value()
		if !ref.IsPattern() {
			if len(t.readersOf(ref)) == 0 {
				delete(t.moved, h)
			}
			continue
		}
		for _, matched := range t.Vault.Matching(ref) {
			if len(t.readersOf(matched)) == 0 {
				delete(t.moved, matched.Handle())
			}
		}
	}
}

// forget drops all the trigger keeps of es, which is gone or out of scope:
// what it reads, and its trigger waiting for ESO (or, in a dry run, the one
// it would have had). An ExternalSecret of the same name made later is new.
func (t *VaultTrigger) forget(es types.NamespacedName) {
	t.record(es, nil)
	t.mu.Lock()
	delete(t.triggered, es)
	delete(t.wouldHaveWritten, es)
	t.mu.Unlock()
}

// refsOf gives back the refs of handles.
func refsOf(handles []providers.Handle) []providers.Ref {
	if len(handles) == 0 {
		return nil
	}
	refs := make([]providers.Ref, len(handles))
	for i, h := range handles {
		refs[i] = h.Value()
	}
	return refs
}

// readersOf returns the ExternalSecrets that read ref, by name or through a
// pattern that matched it; t.mu must be held.
func (t *VaultTrigger) readersOf(ref providers.Ref) []types.NamespacedName {
	readers := slices.Clone(t.readers[ref.Handle()])
	for h := range t.patterns {
		if pattern := h.Value(); pattern.Store == ref.Store && slices.Contains(t.Vault.Matching(pattern), ref) {
			readers = append(readers, t.readers[h]...)
		}
	}
	return readers
}
