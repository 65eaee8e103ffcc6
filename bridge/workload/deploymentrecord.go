package workload

import (
	"encoding/json"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DeploymentRecord is what eso-bridge reads of an apps/v1 Deployment, in
// the API's own JSON field paths: its metadata, replicas, selector, pod
// template's annotations, the names of the Secrets its pods read, and the
// status fields a rollout's progress is judged by. Its scheme (package
// bridge) registers it as apps/v1 Deployment, so the controller's cache
// decodes each Deployment the API server sends straight into it: a cluster's
// Deployments are many, and appsv1.Deployment's struct alone is 1,200 bytes
// before any of its maps, its pod spec 560 of them, never read.
//
// A merge patch computed between two copies of a record holds only what the
// copies differ in: the API server keeps every field the record does not
// hold. Nothing may write a whole Deployment from a record (an update would
// drop its containers; the API server refuses it).
type DeploymentRecord struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DeploymentRecordSpec   `json:"spec,omitempty"`
	Status DeploymentRecordStatus `json:"status,omitempty"`
}

// DeploymentRecordSpec is what a DeploymentRecord holds of the spec.
type DeploymentRecordSpec struct {
	Replicas *int32                `json:"replicas,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	Template TemplateRecord        `json:"template"`
}

// TemplateRecord is what a record holds of a pod template.
type TemplateRecord struct {
	Metadata TemplateMetadata `json:"metadata"`
	// Spec is the names of the Secrets the pods read, found when the
	// template is decoded.
	Spec SecretNames `json:"spec"`
}

// TemplateMetadata is what a record holds of a pod template's metadata.
type TemplateMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DeploymentRecordStatus is what a DeploymentRecord holds of the status:
// what `kubectl rollout status` reads.
type DeploymentRecordStatus struct {
	ObservedGeneration int64                        `json:"observedGeneration,omitempty"`
	Replicas           int32                        `json:"replicas,omitempty"`
	UpdatedReplicas    int32                        `json:"updatedReplicas,omitempty"`
	AvailableReplicas  int32                        `json:"availableReplicas,omitempty"`
	Conditions         []appsv1.DeploymentCondition `json:"conditions,omitempty"`
}

// SecretNames are the names of the Secrets a pod spec reads (SecretsUsedBy),
// each once. It decodes from a whole pod spec and encodes as an empty one,
// the same for every copy, so that it is never in a merge patch.
type SecretNames []string

// UnmarshalJSON implements json.Unmarshaler: it keeps of a pod spec the
// names of the Secrets it reads.
func (s *SecretNames) UnmarshalJSON(data []byte) error {
	var spec corev1.PodSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	*s = secretsUsedBy(&spec)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (SecretNames) MarshalJSON() ([]byte, error) { return []byte("{}"), nil }

// DeploymentRecordList is a list of DeploymentRecords, registered as
// apps/v1 DeploymentList.
type DeploymentRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []DeploymentRecord `json:"items"`
}

// DeepCopyInto copies r into out.
func (r *DeploymentRecord) DeepCopyInto(out *DeploymentRecord) {
	*out = *r
	r.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if r.Spec.Replicas != nil {
		replicas := *r.Spec.Replicas
		out.Spec.Replicas = &replicas
	}
	out.Spec.Selector = r.Spec.Selector.DeepCopy()
	out.Spec.Template.Metadata.Annotations = maps.Clone(r.Spec.Template.Metadata.Annotations)
	out.Spec.Template.Spec = slices.Clone(r.Spec.Template.Spec)
	if r.Status.Conditions != nil {
		out.Status.Conditions = make([]appsv1.DeploymentCondition, len(r.Status.Conditions))
		for i := range r.Status.Conditions {
			r.Status.Conditions[i].DeepCopyInto(&out.Status.Conditions[i])
		}
	}
}

// DeepCopy returns a copy of r.
func (r *DeploymentRecord) DeepCopy() *DeploymentRecord {
	if r == nil {
		return nil
	}
	out := new(DeploymentRecord)
	r.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (r *DeploymentRecord) DeepCopyObject() runtime.Object { return r.DeepCopy() }

// DeepCopyObject implements runtime.Object.
func (l *DeploymentRecordList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &DeploymentRecordList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]DeploymentRecord, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

// AddRecordsToScheme registers DeploymentRecord and its list as apps/v1
// Deployment and DeploymentList, and the rest of apps/v1 as client-go does.
// A scheme holds one Go type per kind: it must not also hold client-go's
// apps/v1 (clientgoscheme.AddToScheme).
func AddRecordsToScheme(scheme *runtime.Scheme) error {
	gv := appsv1.SchemeGroupVersion
	scheme.AddKnownTypeWithName(gv.WithKind("Deployment"), &DeploymentRecord{})
	scheme.AddKnownTypeWithName(gv.WithKind("DeploymentList"), &DeploymentRecordList{})
	scheme.AddKnownTypes(gv,
		&appsv1.StatefulSet{}, &appsv1.StatefulSetList{},
		&appsv1.DaemonSet{}, &appsv1.DaemonSetList{},
		&appsv1.ReplicaSet{}, &appsv1.ReplicaSetList{},
		&appsv1.ControllerRevision{}, &appsv1.ControllerRevisionList{})
	metav1.AddToGroupVersion(scheme, gv)
	return nil
}
