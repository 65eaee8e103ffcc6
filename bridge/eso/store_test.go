package eso

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStoreAdmitsWhatESOAdmits(t *testing.T) {
	namespace := func(name string, labels map[string]string) *corev1.Namespace {
		all := map[string]string{"kubernetes.io/metadata.name": name}
		for k, v := range labels {
			all[k] = v
		}
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all}}
	}
	store := func(conditions ...esv1.ClusterSecretStoreCondition) *esv1.ClusterSecretStore {
		return &esv1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: esv1.SecretStoreSpec{Conditions: conditions}}
	}
	tests := map[string]struct {
		store *esv1.ClusterSecretStore
		ns    *corev1.Namespace
		want  bool
	}{
		"a store without conditions admits every namespace": {store: store(), ns: namespace("team-a", nil), want: true},
		"a listed namespace is admitted":                    {store: store(esv1.ClusterSecretStoreCondition{Namespaces: []string{"team-a"}}), ns: namespace("team-a", nil), want: true},
		"an unlisted namespace is refused":                  {store: store(esv1.ClusterSecretStoreCondition{Namespaces: []string{"team-a"}}), ns: namespace("tenant-b", nil), want: false},
		"a namespace selected by label is admitted": {store: store(esv1.ClusterSecretStoreCondition{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}}),
			ns: namespace("pay", map[string]string{"team": "payments"}), want: true},
		"a namespace matched by a regex is admitted":   {store: store(esv1.ClusterSecretStoreCondition{NamespaceRegexes: []string{"^team-"}}), ns: namespace("team-c", nil), want: true},
		"any condition admits: the second one matches": {store: store(esv1.ClusterSecretStoreCondition{Namespaces: []string{"x"}}, esv1.ClusterSecretStoreCondition{NamespaceRegexes: []string{"^b$"}}), ns: namespace("b", nil), want: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := StoreAdmits(tt.store, tt.ns)
			if err != nil || got != tt.want {
				t.Errorf("StoreAdmits = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
