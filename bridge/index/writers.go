package index

import (
	"context"
	"fmt"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/eso"
)

// renamedTarget is what the TargetSecret index holds of an ExternalSecret:
// the Secret it writes when that is not named as the ExternalSecret itself.
// Most write the Secret of their own name — ESO's default — and are found
// by it (Writers); keyed in the index as well, each would cost a set of its
// own, about 480 bytes of heap (BenchmarkRetained, package cachetrim).
func renamedTarget(es *esv1.ExternalSecret) []string {
	if target := eso.TargetSecret(es); target != es.Name {
		return []string{target}
	}
	return nil
}

// Writers returns the ExternalSecrets of namespace that write the Secret
// named secret, read from the controller's cache (the indexes of Setup):
// the one named as the Secret if it writes it, and those the TargetSecret
// index finds. With readOnly the cache's own objects are returned, not
// copies, and must not be changed.
func Writers(ctx context.Context, reader client.Reader, namespace, secret string, readOnly bool) ([]*esv1.ExternalSecret, error) {
	var getOpts []client.GetOption
	listOpts := []client.ListOption{client.InNamespace(namespace), client.MatchingFields{TargetSecret: secret}}
	if readOnly {
		getOpts = append(getOpts, client.UnsafeDisableDeepCopy)
		listOpts = append(listOpts, client.UnsafeDisableDeepCopy)
	}
	var found []*esv1.ExternalSecret
	named := &esv1.ExternalSecret{}
	err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secret}, named, getOpts...)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading ExternalSecret %s/%s: %w", namespace, secret, err)
	case eso.TargetSecret(named) == secret:
		found = append(found, named)
	}
	var renamed esv1.ExternalSecretList
	if err := reader.List(ctx, &renamed, listOpts...); err != nil {
		return nil, fmt.Errorf("listing the ExternalSecrets writing %s/%s: %w", namespace, secret, err)
	}
	for i := range renamed.Items {
		found = append(found, &renamed.Items[i])
	}
	return found, nil
}
