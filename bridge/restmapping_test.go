package bridge

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A mapping found is kept and answered again without asking; a kind not
// found is asked again, so a CRD installed while eso-bridge runs is found.
func TestMappingCacheKeepsWhatItFoundAndAsksAgainForTheRest(t *testing.T) {
	deployment := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	externalSecret := schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "ExternalSecret"}
	discovered := meta.NewDefaultRESTMapper(nil)
	discovered.Add(deployment, meta.RESTScopeNamespace)
	mapper := &mappingCache{RESTMapper: discovered}

	first, err := mapper.RESTMapping(deployment.GroupKind(), deployment.Version)
	if err != nil || first.Resource.Resource != "deployments" || first.Scope.Name() != meta.RESTScopeNameNamespace {
		t.Fatalf("Deployment mapping = %+v, %v", first, err)
	}
	if again, _ := mapper.RESTMapping(deployment.GroupKind(), deployment.Version); again != first {
		t.Errorf("the second answer for Deployments was looked up again, not kept")
	}
	if _, err := mapper.RESTMapping(externalSecret.GroupKind(), externalSecret.Version); !meta.IsNoMatchError(err) {
		t.Fatalf("an unknown kind: err = %v, want no match", err)
	}
	discovered.Add(externalSecret, meta.RESTScopeNamespace) // the CRD installed
	if m, err := mapper.RESTMapping(externalSecret.GroupKind(), externalSecret.Version); err != nil || m.Resource.Resource != "externalsecrets" {
		t.Errorf("after its CRD is installed, ExternalSecret mapping = %+v, %v", m, err)
	}
}
