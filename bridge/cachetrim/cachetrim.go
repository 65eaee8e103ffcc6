// Package cachetrim is what the controller's cache keeps of each object: the
// fields its decisions read, not whole objects. A cluster's Deployments and
// ExternalSecrets are many, and most of each — managed-field sets, the
// last-applied copy of the manifest, containers' images, probes and
// resources, an ExternalSecret's template — is never read.
package cachetrim

import (
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// lastApplied is where `kubectl apply` keeps a whole copy of the manifest.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Transform trims an object before the cache stores it (a client-go
// TransformFunc). It keeps of the managed-field entries who wrote, how and
// when, not the field sets: the time of ESO's last write to a Secret and to
// an ExternalSecret's status is read from them (package eso).
//
// Only copies the controller computes merge patches between are trimmed: a
// field neither copy holds is not in the patch, and the API server keeps it.
// Nothing that writes a whole object may read it from this cache.
func Transform(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		// A tombstone (DeletedFinalStateUnknown) holds an object already trimmed.
		return obj, nil
	}
	trimMetadata(m)
	switch o := obj.(type) {
	case *esv1.ExternalSecret:
		// Templates can be large and are ESO's to render.
		o.Spec.Target.Template = nil
	case *appsv1.Deployment:
		workload.TrimPodSpec(&o.Spec.Template.Spec)
	case *appsv1.StatefulSet:
		workload.TrimPodSpec(&o.Spec.Template.Spec)
		// Claim templates are not read either.
		o.Spec.VolumeClaimTemplates = nil
	case *appsv1.DaemonSet:
		workload.TrimPodSpec(&o.Spec.Template.Spec)
	case *batchv1.CronJob:
		workload.TrimPodSpec(&o.Spec.JobTemplate.Spec.Template.Spec)
	}
	return obj, nil
}

func trimMetadata(m metav1.Object) {
	if fields := m.GetManagedFields(); len(fields) > 0 {
		trimmed := make([]metav1.ManagedFieldsEntry, len(fields))
		for i, f := range fields {
			f.FieldsV1 = nil
			trimmed[i] = f
		}
		m.SetManagedFields(trimmed)
	}
	if a := m.GetAnnotations(); a[lastApplied] != "" {
		delete(a, lastApplied)
		m.SetAnnotations(a)
	}
}
