package eso

import (
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GeneratedBy returns the name of the ClusterExternalSecret that generated
// es, or "". ESO's ClusterExternalSecret controller is es's controller owner
// and sets its labels and annotations from the ClusterExternalSecret's
// externalSecretMetadata on every reconcile (v0.20,
// createOrUpdateExternalSecret): anything another writer puts there is
// wiped, and each wipe is a change that makes ESO refresh.
func GeneratedBy(es *esv1.ExternalSecret) string {
	owner := metav1.GetControllerOf(es)
	if owner == nil || owner.Kind != esv1.ClusterExtSecretKind {
		return ""
	}
	if gv, err := schema.ParseGroupVersion(owner.APIVersion); err != nil || gv.Group != esv1.Group {
		return ""
	}
	return owner.Name
}
