// Package scope decides which namespaces an installation of eso-bridge may
// touch: an include list, an exclude list and a label selector.
package scope

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Scope decides which namespaces eso-bridge may touch.
type Scope struct {
	include  []string
	exclude  []string
	selector labels.Selector
}

// New builds the scope of the namespaces included (all when empty), those
// excluded, and a label selector namespaces must match (all when empty).
func New(include, exclude []string, selector string) (*Scope, error) {
	parsed, err := labels.Parse(selector)
	if err != nil {
		return nil, err
	}
	return &Scope{include: include, exclude: exclude, selector: parsed}, nil
}

// Allows reports whether namespace is in scope. The label selector is checked
// against the cached Namespace object.
func (s *Scope) Allows(ctx context.Context, c client.Reader, namespace string) (bool, error) {
	if slices.Contains(s.exclude, namespace) {
		return false, nil
	}
	if len(s.include) > 0 && !slices.Contains(s.include, namespace) {
		return false, nil
	}
	if s.selector.Empty() {
		return true, nil
	}
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return s.Matches(&ns), nil
}

// Matches reports whether ns is in scope, as Allows does with its labels.
func (s *Scope) Matches(ns *corev1.Namespace) bool {
	if slices.Contains(s.exclude, ns.Name) || (len(s.include) > 0 && !slices.Contains(s.include, ns.Name)) {
		return false
	}
	return s.selector.Matches(labels.Set(ns.Labels))
}
