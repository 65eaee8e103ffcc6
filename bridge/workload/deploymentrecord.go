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
// decodes each Deployment the API server sends, in protobuf or JSON,
// straight into it: a cluster's Deployments are many, and appsv1.Deployment's
// struct alone is 1,200 bytes before any of its maps, its pod spec 560 of
// them, never read.
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
	var refs podSpecReferences
	if err := json.Unmarshal(data, &refs); err != nil {
		return err
	}
	spec := corev1.PodSpec{Volumes: refs.Volumes}
	for _, c := range refs.InitContainers {
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Env: c.Env, EnvFrom: c.EnvFrom})
	}
	for _, c := range refs.Containers {
		spec.Containers = append(spec.Containers, corev1.Container{Env: c.Env, EnvFrom: c.EnvFrom})
	}
	for _, c := range refs.EphemeralContainers {
		spec.EphemeralContainers = append(spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Env: c.Env, EnvFrom: c.EnvFrom}})
	}
	*s = secretsUsedBy(&spec)
	return nil
}

// podSpecReferences is what of a pod spec can name a Secret, decoded in the
// pod spec's own types: the rest of a container (its image, probes,
// resources, whose quantities are costly to parse) is skipped unread.
type podSpecReferences struct {
	Volumes             []corev1.Volume        `json:"volumes"`
	InitContainers      []containerEnvironment `json:"initContainers"`
	Containers          []containerEnvironment `json:"containers"`
	EphemeralContainers []containerEnvironment `json:"ephemeralContainers"`
}

// containerEnvironment is what of a container can name a Secret.
type containerEnvironment struct {
	Env     []corev1.EnvVar        `json:"env"`
	EnvFrom []corev1.EnvFromSource `json:"envFrom"`
}

// MarshalJSON implements json.Marshaler.
func (SecretNames) MarshalJSON() ([]byte, error) { return []byte("{}"), nil }

// The API machinery's protobuf serializer decodes into any proto.Message
// with an Unmarshal method, and controller-runtime asks for protobuf for
// every built-in kind: a record decodes the protobuf form of a whole
// Deployment with client-go's generated code, four to six times faster than
// JSON, and keeps what it reads. The whole Deployment is garbage at once.

// Unmarshal decodes the protobuf form of an apps/v1 Deployment.
func (r *DeploymentRecord) Unmarshal(data []byte) error {
	var whole appsv1.Deployment
	if err := whole.Unmarshal(data); err != nil {
		return err
	}
	r.fill(&whole)
	return nil
}

// fill makes r the record of whole, sharing its maps and slices.
func (r *DeploymentRecord) fill(whole *appsv1.Deployment) {
	*r = DeploymentRecord{TypeMeta: whole.TypeMeta, ObjectMeta: whole.ObjectMeta}
	r.Spec.Replicas = whole.Spec.Replicas
	r.Spec.Selector = whole.Spec.Selector
	r.Spec.Template.Metadata.Annotations = whole.Spec.Template.Annotations
	r.Spec.Template.Spec = secretsUsedBy(&whole.Spec.Template.Spec)
	r.Status = DeploymentRecordStatus{
		ObservedGeneration: whole.Status.ObservedGeneration,
		Replicas:           whole.Status.Replicas,
		UpdatedReplicas:    whole.Status.UpdatedReplicas,
		AvailableReplicas:  whole.Status.AvailableReplicas,
		Conditions:         whole.Status.Conditions,
	}
}

// Reset implements proto.Message.
func (r *DeploymentRecord) Reset() { *r = DeploymentRecord{} }

// String implements proto.Message: the Deployment's namespace and name.
func (r *DeploymentRecord) String() string { return r.Namespace + "/" + r.Name }

// ProtoMessage implements proto.Message.
func (*DeploymentRecord) ProtoMessage() {}

// DeploymentRecordList is a list of DeploymentRecords, registered as
// apps/v1 DeploymentList.
type DeploymentRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []DeploymentRecord `json:"items"`
}

// Unmarshal decodes the protobuf form of an apps/v1 DeploymentList.
func (l *DeploymentRecordList) Unmarshal(data []byte) error {
	var whole appsv1.DeploymentList
	if err := whole.Unmarshal(data); err != nil {
		return err
	}
	*l = DeploymentRecordList{TypeMeta: whole.TypeMeta, ListMeta: whole.ListMeta, Items: make([]DeploymentRecord, len(whole.Items))}
	for i := range whole.Items {
		l.Items[i].fill(&whole.Items[i])
	}
	return nil
}

// Reset implements proto.Message.
func (l *DeploymentRecordList) Reset() { *l = DeploymentRecordList{} }

// String implements proto.Message.
func (l *DeploymentRecordList) String() string { return "DeploymentList" }

// ProtoMessage implements proto.Message.
func (*DeploymentRecordList) ProtoMessage() {}

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
