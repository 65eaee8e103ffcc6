package eso

import (
	"fmt"
	"regexp"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// StoreAdmits reports whether ESO lets an ExternalSecret in namespace read
// through the ClusterSecretStore store: it has no conditions, or one of them
// selects the namespace by label, name or regular expression (ESO's
// shouldProcessSecret, v0.20). ESO refuses every other namespace, and so
// eso-bridge follows nothing there: a tenant must not learn, through its own
// ExternalSecret, what a store it may not use would read.
func StoreAdmits(store *esv1.ClusterSecretStore, namespace *corev1.Namespace) (bool, error) {
	if len(store.Spec.Conditions) == 0 {
		return true, nil
	}
	nsLabels := labels.Set(namespace.Labels)
	for _, condition := range store.Spec.Conditions {
		var selectors []*metav1.LabelSelector
		if condition.NamespaceSelector != nil {
			selectors = append(selectors, condition.NamespaceSelector)
		}
		for _, name := range condition.Namespaces {
			selectors = append(selectors, &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": name}})
		}
		for _, ls := range selectors {
			selector, err := metav1.LabelSelectorAsSelector(ls)
			if err != nil {
				return false, fmt.Errorf("ClusterSecretStore %s: namespace selector: %w", store.Name, err)
			}
			if selector.Matches(nsLabels) {
				return true, nil
			}
		}
		for _, expression := range condition.NamespaceRegexes {
			match, err := regexp.MatchString(expression, namespace.Name)
			if err != nil {
				return false, fmt.Errorf("ClusterSecretStore %s: namespace regex %q: %w", store.Name, expression, err)
			}
			if match {
				return true, nil
			}
		}
	}
	return false, nil
}
