package workload

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CronJob adapts batch/v1 CronJobs: a restart changes the job template, so
// the next run uses the new value and running jobs are left alone.
type CronJob struct{}

// Kind implements Kind.
func (CronJob) Kind() string { return "CronJob" }

// New implements Kind.
func (CronJob) New() client.Object { return &batchv1.CronJob{} }

// NewList implements Kind.
func (CronJob) NewList() client.ObjectList { return &batchv1.CronJobList{} }

// Items implements Kind.
func (CronJob) Items(list client.ObjectList) []client.Object {
	return objects(list.(*batchv1.CronJobList).Items)
}

// template is the object's pod template.
func (CronJob) template(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
}

// TemplateAnnotations implements Kind.
func (k CronJob) TemplateAnnotations(obj client.Object) map[string]string {
	return k.template(obj).Annotations
}

// SecretsUsed implements Kind.
func (k CronJob) SecretsUsed(obj client.Object) []string { return SecretsUsedBy(k.template(obj)) }

// AnnotateTemplate implements Kind.
func (k CronJob) AnnotateTemplate(obj client.Object, annotations map[string]string) error {
	annotate(&k.template(obj).Annotations, annotations)
	return nil
}

// Progress implements Kind: a CronJob has no rollout.
func (CronJob) Progress(client.Object) (Progress, bool) { return Progress{}, false }

// PodSelector implements Kind: a CronJob's pods belong to its Jobs.
func (CronJob) PodSelector(client.Object) *metav1.LabelSelector { return nil }
