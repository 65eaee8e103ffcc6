package cachetrim

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/internal/heaptest"
)

// BenchmarkRetained reports the heap one member of a fleet keeps in the
// controller's cache once trimmed — an ExternalSecret, the metadata of the
// Secret it writes, and a Deployment that reads it, each decoded from JSON
// as the API server sends it (managed fields, status and all) — without the
// Go runtime's headroom: B/object is what the objects keep, index-B/object
// what the informer's indexes add for them (the namespace index every
// informer of controller-runtime has, and eso-bridge's field indexes). It
// is the part of the resident memory per member (BenchmarkBesideReloader)
// that trimming and indexing decide; heap profiles of the controller are
// too coarse to show it.
func BenchmarkRetained(b *testing.B) {
	const n = 2000
	for _, kind := range []struct {
		name     string
		json     func(i int) []byte
		new      func() any
		indexers toolscache.Indexers
	}{
		{"ExternalSecret", memberJSON(memberExternalSecret), func() any { return &esv1.ExternalSecret{} }, index.ExternalSecretIndexers()},
		// Beside it, one as `kubectl apply` or a GitOps tool writes it: the
		// last-applied copy of its manifest and the tool's labels.
		{"ExternalSecret as teams apply it", memberJSON(appliedMemberExternalSecret), func() any { return &esv1.ExternalSecret{} }, index.ExternalSecretIndexers()},
		{"Secret metadata", memberJSON(memberSecret), func() any { return &metav1.PartialObjectMetadata{} }, nil},
		// Decoded, as the cache decodes them, into the record eso-bridge
		// holds of a Deployment.
		{"Deployment", memberJSON(memberDeployment), func() any { return &workload.DeploymentRecord{} }, index.WorkloadIndexers(workload.Deployment{})},
		// Beside the fleet's one-container Deployments, one as teams write
		// them: a sidecar, plain env, env and volumes from five Secrets.
		{"Deployment as teams write them", memberJSON(productionMember), func() any { return &workload.DeploymentRecord{} }, index.WorkloadIndexers(workload.Deployment{})},
	} {
		b.Run(kind.name, func(b *testing.B) {
			for range b.N {
				encoded := make([][]byte, n)
				for i := range encoded {
					encoded[i] = kind.json(i)
				}
				kept := make([]any, n)
				before := heaptest.Live()
				for i, data := range encoded {
					obj := kind.new()
					if err := json.Unmarshal(data, obj); err != nil {
						b.Fatal(err)
					}
					kept[i], _ = Transform(obj)
				}
				objects := heaptest.ReportSince(b, before, n, "B/object")
				store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
				if err := store.AddIndexers(kind.indexers); err != nil {
					b.Fatal(err)
				}
				for _, obj := range kept {
					if err := store.Add(obj); err != nil {
						b.Fatal(err)
					}
				}
				heaptest.ReportSince(b, objects, n, "index-B/object")
				// All live until measured: the JSON freed would offset the objects.
				runtime.KeepAlive(kept)
				runtime.KeepAlive(encoded)
				runtime.KeepAlive(store)
			}
		})
	}
}

func memberJSON(object func(i int) any) func(i int) []byte {
	return func(i int) []byte {
		data, err := json.Marshal(object(i))
		if err != nil {
			panic(err)
		}
		return data
	}
}

// written is when every object of the fleet was written.
var written = metav1.NewTime(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))

// member is the metadata the API server gives an object of the fleet.
func member(i int, manager string, annotations map[string]string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: fleetName(i), Namespace: "shop", UID: "0b6f5d0e-4c1e-4d6a-9f4b-8b7c6a5d4e3f",
		ResourceVersion: fmt.Sprint(100000 + i), Generation: 2, CreationTimestamp: written,
		Labels: labels, Annotations: annotations,
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &written, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{".":{},"f:a":{}},"f:labels":{".":{},"f:l":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{}}}}}`)}},
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &written, FieldsType: "FieldsV1",
				Subresource: "status", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{},"f:observedGeneration":{}}}`)}},
		}}
}

// fleetName names the i-th member's objects.
func fleetName(i int) string { return fmt.Sprintf("app-%05d", i) }

func memberExternalSecret(i int) any {
	es := &esv1.ExternalSecret{ObjectMeta: member(i, "kubectl-client-side-apply", map[string]string{annotations.AnnotationRollout: "auto"}, nil),
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Kind: esv1.ClusterSecretStoreKind, Name: "aws"},
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			Target:          esv1.ExternalSecretTarget{Name: fleetName(i), CreationPolicy: esv1.CreatePolicyOwner},
			Data:            []esv1.ExternalSecretData{{SecretKey: "value", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: fmt.Sprintf("shop/app-%05d", i)}}},
		}}
	es.Status = esv1.ExternalSecretStatus{RefreshTime: written, SyncedResourceVersion: "2-0123456789abcdef0123456789abcdef0123456789abcdef01234567",
		Binding: corev1.LocalObjectReference{Name: es.Spec.Target.Name},
		Conditions: []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue,
			Reason: esv1.ConditionReasonSecretSynced, Message: "secret synced", LastTransitionTime: written}}}
	return es
}

// appliedMemberExternalSecret is memberExternalSecret as `kubectl apply`
// leaves it, labelled by the GitOps tool and chart that made it.
func appliedMemberExternalSecret(i int) any {
	es := memberExternalSecret(i).(*esv1.ExternalSecret)
	es.Labels = map[string]string{"app.kubernetes.io/name": "app", "app.kubernetes.io/instance": fleetName(i),
		"app.kubernetes.io/part-of": "shop", "argocd.argoproj.io/instance": "shop-" + fleetName(i)}
	manifest := es.DeepCopy()
	manifest.ObjectMeta = metav1.ObjectMeta{Name: es.Name, Namespace: es.Namespace, Labels: es.Labels, Annotations: es.Annotations}
	manifest.Status = esv1.ExternalSecretStatus{}
	data, err := json.Marshal(manifest)
	if err != nil {
		panic(err)
	}
	es.Annotations = map[string]string{annotations.AnnotationRollout: "auto", corev1.LastAppliedConfigAnnotation: string(data)}
	return es
}

func memberSecret(i int) any {
	m := member(i, "external-secrets", map[string]string{esv1.AnnotationDataHash: "0123456789abcdef0123456789abcdef"},
		map[string]string{esv1.LabelManaged: esv1.LabelManagedValue, "reconcile.external-secrets.io/created-by": "0123456789abcdef0123456789abcdef0123456789abcdef0123456"})
	m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: m.Name,
		UID: "1c7e6e1f-5d2f-4e7b-8a5c-9c8d7b6e5f4a", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: m}
}

// productionMember is productionDeployment (cachetrim_test.go) named as
// the fleet's i-th member.
func productionMember(i int) any {
	d := productionDeployment()
	d.Name = fleetName(i)
	return d
}

func memberDeployment(i int) any {
	name := fleetName(i)
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: member(i, "kubectl-client-side-apply", map[string]string{
		"deployment.kubernetes.io/revision": "1",
		annotations.AnnotationSourceHash:    "0123456789abcdef0123456789abcdef",
		annotations.AnnotationDigestKey:     "k1",
	}, labels),
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			// As the API server defaults it.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}}}}}},
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastUpdateTime: written, LastTransitionTime: written},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", name+"-7d9f8b6c5d"), LastUpdateTime: written, LastTransitionTime: written},
		}}
	return d
}
