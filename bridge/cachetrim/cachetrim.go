// Package cachetrim is what the controller's cache keeps of each object: the
// fields its decisions read, not whole objects. A cluster's Deployments and
// ExternalSecrets are many, and most of each — managed-field sets, the
// last-applied copy of the manifest, containers' images, probes and
// resources, a workload's labels and conditions, an ExternalSecret's
// template — is never read.
package cachetrim

import (
	"maps"
	"slices"
	"strings"
	"unique"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// lastApplied is where `kubectl apply` keeps a whole copy of the manifest.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Transform trims an object before the cache stores it (a client-go
// TransformFunc). Of labels and annotations it keeps those read: an
// ExternalSecret's eso-bridge.io/ annotations (and ESO's digest of all of
// them, re-based on those), a Secret's ESO data hash, a workload's
// eso-bridge.io/ annotations and revision, another kind's all but the
// last-applied copy of its manifest. Of the managed-field entries it keeps
// only the time that is read (package eso): of a Secret's, its newest
// write; of an ExternalSecret's, its newest status write; of other kinds',
// none. Label and annotation keys and the namespace are interned:
// thousands of objects share a few of each.
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
	m.SetNamespace(unique.Make(m.GetNamespace()).Value())
	managed := m.GetManagedFields()
	m.SetManagedFields(nil)
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		// The only objects cached as metadata are the Secrets ESO manages.
		// Of their labels and annotations only ESO's data hash is read, and
		// ESO owns them; nothing reads who.
		m.SetAnnotations(kept(m.GetAnnotations(), func(key string) bool { return key == eso.DataHashAnnotation }))
		m.SetLabels(nil)
		m.SetOwnerReferences(nil)
		m.SetManagedFields(newestWrite(managed, ""))
	case *esv1.ExternalSecret:
		// Of its labels and annotations only eso-bridge's are read, but
		// ESO's syncedResourceVersion is a digest of them all
		// (eso.ResourceVersion), kubectl's last-applied copy of the
		// manifest included — `kubectl apply`, or a GitOps tool applying
		// as it does, puts one on most ExternalSecrets, beside the tool's
		// labels. The status keeps what that digest says, re-based on what
		// is kept, so that eso.StatusReflectsSpec answers for the trimmed
		// copy as it did for the whole: a digest of what is kept when it
		// matched, none when it did not.
		reflects := eso.StatusReflectsSpec(o)
		m.SetAnnotations(kept(m.GetAnnotations(), ownAnnotation))
		m.SetLabels(nil)
		o.Status.SyncedResourceVersion = ""
		if reflects {
			o.Status.SyncedResourceVersion = eso.ResourceVersion(o.ObjectMeta)
		}
		m.SetManagedFields(newestWrite(managed, "status"))
		// Templates can be large and are ESO's to render.
		o.Spec.Target.Template = nil
		internVocabulary(o)
	case *workload.DeploymentRecord:
		// Decoded already into what is read (its pod spec into the names
		// of the Secrets it reads); its metadata and template's as any
		// workload's.
		trimWorkloadMetadata(m)
		o.Spec.Template.Metadata.Annotations = kept(o.Spec.Template.Metadata.Annotations, readOnWorkloads)
		compactSelector(o.Spec.Selector)
		o.Status.Conditions = progressDeadline(o.Status.Conditions)
	case *appsv1.StatefulSet:
		trimWorkload(m, &o.Spec.Template)
		compactSelector(o.Spec.Selector)
		// Claim templates are not read either.
		o.Spec.VolumeClaimTemplates = nil
		o.Status.Conditions = nil
	case *appsv1.DaemonSet:
		trimWorkload(m, &o.Spec.Template)
		compactSelector(o.Spec.Selector)
		o.Status.Conditions = nil
	case *batchv1.CronJob:
		trimWorkload(m, &o.Spec.JobTemplate.Spec.Template)
	default:
		// Another kind (an Argo Rollout, a Namespace): its metadata whole,
		// but for the last-applied copy of its manifest.
		m.SetAnnotations(kept(m.GetAnnotations(), func(key string) bool { return key != lastApplied }))
		m.SetLabels(kept(m.GetLabels(), everyKey))
	}
	return obj, nil
}

// trimWorkload keeps of a workload's metadata and pod template what the
// decisions read: eso-bridge's annotations and a Deployment's revision,
// not other annotations (a GitOps tool's, Helm's, kubectl's last-applied
// copy of the manifest), nor labels (pods are found by the selector), nor
// owners; of the pod spec, the Secrets it uses.
func trimWorkload(m metav1.Object, template *corev1.PodTemplateSpec) {
	trimWorkloadMetadata(m)
	template.Annotations = kept(template.Annotations, readOnWorkloads)
	template.Labels = nil
	workload.TrimPodSpec(&template.Spec)
}

// trimWorkloadMetadata keeps of a workload's metadata eso-bridge's
// annotations and a Deployment's revision.
func trimWorkloadMetadata(m metav1.Object) {
	m.SetAnnotations(kept(m.GetAnnotations(), readOnWorkloads))
	m.SetLabels(nil)
	m.SetOwnerReferences(nil)
}

// internVocabulary interns an ExternalSecret's fields whose values come
// from a small vocabulary — its store, ESO's policies and strategies (set
// on every one by the CRD's defaults), its conditions' words — which
// thousands of ExternalSecrets share: about 40 bytes of heap each.
func internVocabulary(es *esv1.ExternalSecret) {
	intern(&es.Spec.SecretStoreRef.Kind)
	intern(&es.Spec.SecretStoreRef.Name)
	intern(&es.Spec.Target.CreationPolicy)
	intern(&es.Spec.Target.DeletionPolicy)
	intern(&es.Spec.RefreshPolicy)
	remoteRef := func(ref *esv1.ExternalSecretDataRemoteRef) {
		intern(&ref.MetadataPolicy)
		intern(&ref.ConversionStrategy)
		intern(&ref.DecodingStrategy)
	}
	for i := range es.Spec.Data {
		remoteRef(&es.Spec.Data[i].RemoteRef)
	}
	for i := range es.Spec.DataFrom {
		if ref := es.Spec.DataFrom[i].Extract; ref != nil {
			remoteRef(ref)
		}
	}
	for i := range es.Status.Conditions {
		c := &es.Status.Conditions[i]
		intern(&c.Type)
		intern(&c.Status)
		intern(&c.Reason)
		intern(&c.Message)
	}
}

// intern replaces *s by the one canonical copy of its value.
func intern[S ~string](s *S) { *s = unique.Make(*s).Value() }

// compactSelector rewrites a workload's selector's matchLabels as the
// matchExpressions that select the same pods ("key In (value)"), in the
// order of their keys: a map of even one label is 336 bytes of heap, the
// expression 80 (Go 1.25), in every cached workload. The selector is only
// read to list the workload's pods (metav1.LabelSelectorAsSelector), and,
// unchanged between the two copies a restart patch is computed from, is
// never in the patch.
func compactSelector(selector *metav1.LabelSelector) {
	if selector == nil || len(selector.MatchLabels) == 0 {
		return
	}
	keys := slices.Sorted(maps.Keys(selector.MatchLabels))
	expressions := make([]metav1.LabelSelectorRequirement, 0, len(keys)+len(selector.MatchExpressions))
	for _, key := range keys {
		expressions = append(expressions, metav1.LabelSelectorRequirement{
			Key: unique.Make(key).Value(), Operator: metav1.LabelSelectorOpIn, Values: []string{selector.MatchLabels[key]}})
	}
	selector.MatchExpressions = append(expressions, selector.MatchExpressions...)
	selector.MatchLabels = nil
}

// readOnWorkloads says whether a workload's or its pod template's
// annotation is one a decision reads.
func readOnWorkloads(key string) bool {
	return ownAnnotation(key) || key == workload.RevisionAnnotation
}

// ownAnnotation says whether key is one of eso-bridge's annotations.
func ownAnnotation(key string) bool { return strings.HasPrefix(key, annotations.Prefix) }

func everyKey(string) bool { return true }

// kept returns the entries of in whose key keep accepts, in a map of their
// own with the keys interned (thousands of objects share a few keys), or
// nil when none is.
func kept(in map[string]string, keep func(key string) bool) map[string]string {
	var out map[string]string
	for k, v := range in {
		if !keep(k) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(in))
		}
		out[unique.Make(k).Value()] = v
	}
	return out
}

// progressDeadline keeps, of a Deployment's conditions, the one whose
// reason says the rollout exceeded its progress deadline (what
// workload.Deployment reads), without its message and times.
func progressDeadline(conditions []appsv1.DeploymentCondition) []appsv1.DeploymentCondition {
	for _, c := range conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == workload.ProgressDeadlineExceeded {
			return []appsv1.DeploymentCondition{{Type: c.Type, Status: c.Status, Reason: workload.ProgressDeadlineExceeded}}
		}
	}
	return nil
}

// newestWrite is one managed-field entry, without its field set, holding the
// newest time among the entries of subresource ("" for the object itself):
// what eso.LastWrite and eso.StatusWritten read. Nil when there is none.
func newestWrite(fields []metav1.ManagedFieldsEntry, subresource string) []metav1.ManagedFieldsEntry {
	var newest *metav1.ManagedFieldsEntry
	for i := range fields {
		f := &fields[i]
		if (subresource == "" || f.Subresource == subresource) && f.Time != nil && (newest == nil || f.Time.After(newest.Time.Time)) {
			newest = f
		}
	}
	if newest == nil {
		return nil
	}
	// Thousands of objects share a few managers, operations and subresources.
	return []metav1.ManagedFieldsEntry{{Manager: unique.Make(newest.Manager).Value(), Operation: unique.Make(newest.Operation).Value(),
		Subresource: unique.Make(newest.Subresource).Value(), Time: newest.Time}}
}
