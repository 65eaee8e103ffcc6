package bridge

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WorkloadKind adapts one kind of workload that eso-bridge restarts: how to
// make an empty object of it and where its pod template is. Restarting is the
// same for every kind — a pod-template annotation patch — so this is all that
// differs.
type WorkloadKind interface {
	// Kind is the API kind, e.g. "Deployment".
	Kind() string
	// New returns an empty object of the kind.
	New() client.Object
	// NewList returns an empty list of the kind.
	NewList() client.ObjectList
	// Items returns the objects of a list made by NewList.
	Items(list client.ObjectList) []client.Object
	// PodTemplate returns the object's pod template, to read and, for typed
	// kinds, to change in place (kinds that return a copy implement
	// templateAnnotator). For a CronJob it is the job template's: the next run
	// gets the new value, and running jobs are left alone.
	PodTemplate(obj client.Object) *corev1.PodTemplateSpec
}

// BuiltinKinds are the workload kinds every cluster has; Argo Rollouts are
// added where the cluster serves them (see servedKinds).
func BuiltinKinds() []WorkloadKind {
	return []WorkloadKind{deploymentKind{}, statefulSetKind{}, daemonSetKind{}, cronJobKind{}}
}

type deploymentKind struct{}

func (deploymentKind) Kind() string               { return "Deployment" }
func (deploymentKind) New() client.Object         { return &appsv1.Deployment{} }
func (deploymentKind) NewList() client.ObjectList { return &appsv1.DeploymentList{} }
func (deploymentKind) Items(list client.ObjectList) []client.Object {
	return objects(list.(*appsv1.DeploymentList).Items)
}
func (deploymentKind) PodTemplate(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*appsv1.Deployment).Spec.Template
}

type statefulSetKind struct{}

func (statefulSetKind) Kind() string               { return "StatefulSet" }
func (statefulSetKind) New() client.Object         { return &appsv1.StatefulSet{} }
func (statefulSetKind) NewList() client.ObjectList { return &appsv1.StatefulSetList{} }
func (statefulSetKind) Items(list client.ObjectList) []client.Object {
	return objects(list.(*appsv1.StatefulSetList).Items)
}
func (statefulSetKind) PodTemplate(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*appsv1.StatefulSet).Spec.Template
}

type daemonSetKind struct{}

func (daemonSetKind) Kind() string               { return "DaemonSet" }
func (daemonSetKind) New() client.Object         { return &appsv1.DaemonSet{} }
func (daemonSetKind) NewList() client.ObjectList { return &appsv1.DaemonSetList{} }
func (daemonSetKind) Items(list client.ObjectList) []client.Object {
	return objects(list.(*appsv1.DaemonSetList).Items)
}
func (daemonSetKind) PodTemplate(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*appsv1.DaemonSet).Spec.Template
}

type cronJobKind struct{}

func (cronJobKind) Kind() string               { return "CronJob" }
func (cronJobKind) New() client.Object         { return &batchv1.CronJob{} }
func (cronJobKind) NewList() client.ObjectList { return &batchv1.CronJobList{} }
func (cronJobKind) Items(list client.ObjectList) []client.Object {
	return objects(list.(*batchv1.CronJobList).Items)
}
func (cronJobKind) PodTemplate(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
}

// objects turns a slice of API structs into client.Objects pointing into it.
func objects[T any, PT interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// secretsUsedBy returns the names of the Secrets a pod template reads: env
// secretKeyRef, envFrom secretRef, secret volumes and projected secret
// sources, in init, regular and ephemeral containers.
func secretsUsedBy(template *corev1.PodTemplateSpec) []string {
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	spec := &template.Spec
	for _, vol := range spec.Volumes {
		if vol.Secret != nil {
			add(vol.Secret.SecretName)
		}
		if vol.Projected != nil {
			for _, src := range vol.Projected.Sources {
				if src.Secret != nil {
					add(src.Secret.Name)
				}
			}
		}
	}
	addEnv := func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, e := range envFrom {
			if e.SecretRef != nil {
				add(e.SecretRef.Name)
			}
		}
	}
	for _, c := range spec.InitContainers {
		addEnv(c.Env, c.EnvFrom)
	}
	for _, c := range spec.Containers {
		addEnv(c.Env, c.EnvFrom)
	}
	for _, c := range spec.EphemeralContainers {
		addEnv(c.Env, c.EnvFrom)
	}
	return names
}
