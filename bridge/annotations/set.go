package annotations

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Set sets one annotation on obj's metadata, in place.
func Set(obj metav1.Object, key, value string) {
	own := obj.GetAnnotations()
	if own == nil {
		own = map[string]string{}
	}
	own[key] = value
	obj.SetAnnotations(own)
}
