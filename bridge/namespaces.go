package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/scope"
)

// errNamespacesChanged stops a manager whose cached namespaces no longer
// are those the namespace selector matches.
var errNamespacesChanged = errors.New("the namespaces the selector matches changed")

// cachedNamespaces are the namespaces the caches hold: the --namespaces
// list, or, with a namespace selector, the namespaces in scope now (the
// list, if any, narrows them). nil means all. A shard — an installation
// with its own selector and Lease — then holds and polls for its own
// namespaces only.
func cachedNamespaces(ctx context.Context, cfg *rest.Config, opts Options, inScope *scope.Scope) ([]string, error) {
	if opts.NamespaceSelector == "" {
		if len(opts.Namespaces) == 0 {
			return nil, nil
		}
		return opts.Namespaces, nil
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		return nil, err
	}
	var list corev1.NamespaceList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing the namespaces --namespace-selector matches: %w", err)
	}
	matched := []string{}
	for i := range list.Items {
		if inScope.Matches(&list.Items[i]) {
			matched = append(matched, list.Items[i].Name)
		}
	}
	slices.Sort(matched)
	return matched, nil
}

// stopWhenNamespacesChange stops the manager (stop, with
// errNamespacesChanged) once a namespace enters or leaves the scope that
// matched exactly matched. A namespace deleted needs no new cache: its
// objects leave the cache with it.
func stopWhenNamespacesChange(ctx context.Context, c cache.Cache, inScope *scope.Scope, matched []string, stop context.CancelCauseFunc) error {
	informer, err := c.GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return fmt.Errorf("watching namespaces: %w", err)
	}
	check := func(obj any) {
		ns, ok := obj.(*corev1.Namespace)
		if ok && inScope.Matches(ns) != slices.Contains(matched, ns.Name) {
			stop(errNamespacesChanged)
		}
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    check,
		UpdateFunc: func(_, obj any) { check(obj) },
	})
	return err
}
