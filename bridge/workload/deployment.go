package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Deployment adapts apps/v1 Deployments, read as DeploymentRecords.
type Deployment struct{}

// Kind implements Kind.
func (Deployment) Kind() string { return "Deployment" }

// New implements Kind.
func (Deployment) New() client.Object { return &DeploymentRecord{} }

// NewList implements Kind.
func (Deployment) NewList() client.ObjectList { return &DeploymentRecordList{} }

// Items implements Kind.
func (Deployment) Items(list client.ObjectList) []client.Object {
	return objects(list.(*DeploymentRecordList).Items)
}

// TemplateAnnotations implements Kind.
func (Deployment) TemplateAnnotations(obj client.Object) map[string]string {
	return obj.(*DeploymentRecord).Spec.Template.Metadata.Annotations
}

// SecretsUsed implements Kind.
func (Deployment) SecretsUsed(obj client.Object) []string {
	return obj.(*DeploymentRecord).Spec.Template.Spec
}

// AnnotateTemplate implements Kind.
func (Deployment) AnnotateTemplate(obj client.Object, annotations map[string]string) error {
	annotate(&obj.(*DeploymentRecord).Spec.Template.Metadata.Annotations, annotations)
	return nil
}

// PodSelector implements Kind.
func (Deployment) PodSelector(obj client.Object) *metav1.LabelSelector {
	return obj.(*DeploymentRecord).Spec.Selector
}

// RevisionAnnotation is where the deployment controller numbers a
// Deployment's revision; Progress reads it.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// ProgressDeadlineExceeded is the Progressing reason the deployment
// controller sets when progressDeadlineSeconds passed.
const ProgressDeadlineExceeded = "ProgressDeadlineExceeded"

// Progress implements Kind by the rules of `kubectl rollout status`
// (DeploymentStatusViewer, kubectl v0.34), with its messages.
func (Deployment) Progress(obj client.Object) (Progress, bool) {
	d := obj.(*DeploymentRecord)
	p := Progress{Revision: d.Annotations[RevisionAnnotation]}
	if d.Generation > d.Status.ObservedGeneration {
		p.Message = "Waiting for deployment spec update to be observed..."
		return p, true
	}
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentProgressing && cond.Reason == ProgressDeadlineExceeded {
			p.Stalled, p.Message = true, fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name)
			return p, true
		}
	}
	s := d.Status
	switch {
	case d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas:
		p.Message = fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, s.UpdatedReplicas, *d.Spec.Replicas)
	case s.Replicas > s.UpdatedReplicas:
		p.Message = fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		p.Message = fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, s.AvailableReplicas, s.UpdatedReplicas)
	default:
		p.Done, p.Message = true, fmt.Sprintf("deployment %q successfully rolled out", d.Name)
	}
	return p, true
}
