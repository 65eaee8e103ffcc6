package rotation

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// lookup finds the objects of one rotation in its namespace. From the
// controller's cache (Loader.Indexed) it asks the field indexes of package
// index, so that a rotation costs what it touches, however large its
// namespace; from a live reader (the CLI) it lists the namespace once and
// filters the listing with the same functions.
type lookup struct {
	Loader
	namespace string
	// listed are the namespace's objects, read once when not Indexed: the
	// ExternalSecrets under "", the workloads under their kind.
	listed map[string][]client.Object
}

func (l Loader) lookupIn(namespace string) *lookup {
	return &lookup{Loader: l, namespace: namespace, listed: map[string][]client.Object{}}
}

// externalSecrets returns the ExternalSecrets that index field maps to value.
func (f *lookup) externalSecrets(ctx context.Context, field, value string) ([]*esv1.ExternalSecret, error) {
	var found []*esv1.ExternalSecret
	if f.Indexed {
		var list esv1.ExternalSecretList
		// A read model only reads: from a cache, its own objects, not copies.
		if err := f.Client.List(ctx, &list, client.InNamespace(f.namespace), client.MatchingFields{field: value}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing ExternalSecrets in %s by %s: %w", f.namespace, field, err)
		}
		for i := range list.Items {
			found = append(found, &list.Items[i])
		}
		return found, nil
	}
	all, err := f.everyExternalSecret(ctx)
	if err != nil {
		return nil, err
	}
	values := index.ExternalSecretFields[field]
	for _, es := range all {
		if slices.Contains(values(es), value) {
			found = append(found, es)
		}
	}
	return found, nil
}

// writers returns the ExternalSecrets that write the Secret named secret.
func (f *lookup) writers(ctx context.Context, secret string) ([]*esv1.ExternalSecret, error) {
	if f.Indexed {
		// A read model only reads: from a cache, its own objects, not copies.
		return index.Writers(ctx, f.Client, f.namespace, secret, true)
	}
	return f.externalSecrets(ctx, index.TargetSecret, secret)
}

// everyExternalSecret lists the namespace's ExternalSecrets, once; only
// for a lookup that is not Indexed.
func (f *lookup) everyExternalSecret(ctx context.Context) ([]*esv1.ExternalSecret, error) {
	objs, err := f.all(ctx, "", func() client.ObjectList { return &esv1.ExternalSecretList{} }, func(list client.ObjectList) []client.Object {
		items := list.(*esv1.ExternalSecretList).Items
		objs := make([]client.Object, len(items))
		for i := range items {
			objs[i] = &items[i]
		}
		return objs
	})
	if err != nil {
		return nil, fmt.Errorf("listing ExternalSecrets in %s: %w", f.namespace, err)
	}
	all := make([]*esv1.ExternalSecret, len(objs))
	for i, obj := range objs {
		all[i] = obj.(*esv1.ExternalSecret)
	}
	return all, nil
}

// externalSecret reads one ExternalSecret by name; nil when there is none.
func (f *lookup) externalSecret(ctx context.Context, name string) (*esv1.ExternalSecret, error) {
	es := &esv1.ExternalSecret{}
	if err := f.Client.Get(ctx, types.NamespacedName{Namespace: f.namespace, Name: name}, es); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return es, nil
}

// workloads returns the objects of kind that index field maps to value,
// each in its freshest copy: an object just written counts as written, even
// before the cache holds it.
func (f *lookup) workloads(ctx context.Context, kind workload.Kind, field, value string) ([]client.Object, error) {
	values := index.WorkloadFields(kind)[field]
	var candidates []client.Object
	if f.Indexed {
		list := kind.NewList()
		if err := f.Client.List(ctx, list, client.InNamespace(f.namespace), client.MatchingFields{field: value}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing %s in %s by %s: %w", kind.Kind(), f.namespace, field, err)
		}
		candidates = kind.Items(list)
	} else {
		all, err := f.all(ctx, kind.Kind(), kind.NewList, kind.Items)
		if err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", kind.Kind(), f.namespace, err)
		}
		candidates = all
	}
	var found []client.Object
	seen := map[types.UID]bool{}
	for _, obj := range candidates {
		seen[obj.GetUID()] = true
		if obj = f.freshest(obj); slices.Contains(values(obj), value) {
			found = append(found, obj)
		}
	}
	kindType := reflect.TypeOf(kind.New())
	for _, obj := range f.fresh {
		if reflect.TypeOf(obj) == kindType && obj.GetNamespace() == f.namespace && !seen[obj.GetUID()] && slices.Contains(values(obj), value) {
			found = append(found, obj)
		}
	}
	return found, nil
}

// workload reads one workload of kind by name; nil when there is none.
func (f *lookup) workload(ctx context.Context, kind workload.Kind, name string) (client.Object, error) {
	obj := kind.New()
	if err := f.Client.Get(ctx, types.NamespacedName{Namespace: f.namespace, Name: name}, obj); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return f.freshest(obj), nil
}

// all lists the namespace's objects of one kind once per lookup.
func (f *lookup) all(ctx context.Context, kind string, newList func() client.ObjectList, items func(client.ObjectList) []client.Object) ([]client.Object, error) {
	if objs, ok := f.listed[kind]; ok {
		return objs, nil
	}
	list := newList()
	if err := f.Client.List(ctx, list, client.InNamespace(f.namespace)); err != nil {
		return nil, err
	}
	f.listed[kind] = items(list)
	return f.listed[kind], nil
}
