package workload

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apiDeployment is a Deployment as teams write it and the API server sends
// it: a sidecar, plain environment, Secrets read through a volume, env and
// envFrom, a progress condition.
func apiDeployment() *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop", UID: "u-1", ResourceVersion: "42", Generation: 3, Annotations: map[string]string{RevisionAnnotation: "2"}},
	}
	d.Spec.Replicas = ptr.To[int32](2)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
	d.Spec.Template.Labels = map[string]string{"app": "api"}
	d.Spec.Template.Annotations = map[string]string{"eso-bridge.io/source-hash": "h1"}
	d.Spec.Template.Spec = corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}}},
		Containers: []corev1.Container{
			{Name: "app", Image: "shop/api:1", Env: []corev1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}},
			{Name: "proxy", Image: "envoy:1", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "proxy-token"}}}}},
		},
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}}}
	return d
}

// decodeAsTheCache decodes raw as the controller's cache does: by a codec
// of a scheme holding the records.
func decodeAsTheCache(t *testing.T, raw []byte) *DeploymentRecord {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := AddRecordsToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	obj, _, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	record, ok := obj.(*DeploymentRecord)
	if !ok {
		t.Fatalf("apps/v1 Deployment decoded into %T, want a DeploymentRecord", obj)
	}
	return record
}

// wireForms are the forms the API server sends a Deployment in: JSON, and
// the protobuf controller-runtime asks for built-in kinds.
func wireForms(t *testing.T, obj runtime.Object) map[string][]byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	whole := runtime.NewScheme()
	if err := appsv1.AddToScheme(whole); err != nil {
		t.Fatal(err)
	}
	var wire bytes.Buffer
	if err := protobuf.NewSerializer(whole, whole).Encode(obj, &wire); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"JSON": raw, "protobuf": wire.Bytes()}
}

func TestDeploymentRecordKeepsWhatIsRead(t *testing.T) {
	d := apiDeployment()
	for form, raw := range wireForms(t, d) {
		record := decodeAsTheCache(t, raw)
		kind := Deployment{}
		if got, want := kind.SecretsUsed(record), SecretsUsedBy(&d.Spec.Template); !slices.Equal(got, want) || len(got) != 3 {
			t.Errorf("%s: record uses Secrets %v, the Deployment %v", form, got, want)
		}
		if got := kind.TemplateAnnotations(record)["eso-bridge.io/source-hash"]; got != "h1" {
			t.Errorf("%s: template annotation = %q, want h1", form, got)
		}
		if record.Name != "api" || record.Namespace != "shop" || record.ResourceVersion != "42" || record.Generation != 3 ||
			record.Annotations[RevisionAnnotation] != "2" || *record.Spec.Replicas != 2 || record.Spec.Selector.MatchLabels["app"] != "api" {
			t.Errorf("%s: record lost metadata or spec: %+v", form, record)
		}
		progress, _ := kind.Progress(record)
		if progress.Done || progress.Revision != "2" || progress.Message != `Waiting for deployment "api" rollout to finish: 1 of 2 updated replicas are available...` {
			t.Errorf("%s: record's progress = %+v", form, progress)
		}
	}
}

// A list (what a cache fills from where the API server cannot stream)
// decodes into records too.
func TestDeploymentListDecodesIntoRecords(t *testing.T) {
	second := apiDeployment()
	second.Name = "worker"
	second.Spec.Template.Spec.Volumes = nil
	list := &appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DeploymentList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "77"}, Items: []appsv1.Deployment{*apiDeployment(), *second}}
	scheme := runtime.NewScheme()
	if err := AddRecordsToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for form, raw := range wireForms(t, list) {
		obj, _, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(raw, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		records, ok := obj.(*DeploymentRecordList)
		if !ok {
			t.Fatalf("%s: apps/v1 DeploymentList decoded into %T, want a DeploymentRecordList", form, obj)
		}
		var got []string
		for _, r := range records.Items {
			got = append(got, r.Name+":"+strings.Join(r.Spec.Template.Spec, ","))
		}
		if want := []string{"api:tls,db,proxy-token", "worker:db,proxy-token"}; records.ResourceVersion != "77" || !slices.Equal(got, want) {
			t.Errorf("%s: list at %q holds %q, want 77 and %q", form, records.ResourceVersion, got, want)
		}
	}
}

// A restart is a merge patch between two copies of the cached record: it
// must hold the new annotations and nothing of what the record does not
// keep (a patch that named the pod spec would wipe the containers).
func TestDeploymentRecordMergePatchHoldsOnlyTheChange(t *testing.T) {
	raw, err := json.Marshal(apiDeployment())
	if err != nil {
		t.Fatal(err)
	}
	record := decodeAsTheCache(t, raw)
	base := record.DeepCopyObject().(client.Object)
	if err := (Deployment{}).AnnotateTemplate(record, map[string]string{"eso-bridge.io/restarted-at": "now"}); err != nil {
		t.Fatal(err)
	}
	record.Annotations["eso-bridge.io/source-hash"] = "h2"
	patch, err := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}).Data(record)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"annotations":{"eso-bridge.io/source-hash":"h2"},"resourceVersion":"42"},"spec":{"template":{"metadata":{"annotations":{"eso-bridge.io/restarted-at":"now"}}}}}`
	if string(patch) != want {
		t.Errorf("patch = %s\nwant    %s", patch, want)
	}
	// The copy is deep: the base kept its annotations.
	if (Deployment{}).TemplateAnnotations(base)["eso-bridge.io/restarted-at"] != "" || base.GetAnnotations()["eso-bridge.io/source-hash"] != "" {
		t.Errorf("the patch's base changed with the record")
	}
}
