package workload

import corev1 "k8s.io/api/core/v1"

// TrimPodSpec keeps of spec only what SecretsUsedBy reads — the Secret
// volumes, projected Secret sources, and each container's name and Secret
// environment — so that a cache of workloads holds the part eso-bridge
// decides on, not images, probes, resources or scheduling. The restart
// patch is a merge patch computed between two copies of the cached object:
// what the cache does not hold is left as the API server has it.
func TrimPodSpec(spec *corev1.PodSpec) {
	trimmed := corev1.PodSpec{
		Volumes:        secretVolumes(spec.Volumes),
		InitContainers: secretContainers(spec.InitContainers),
		Containers:     secretContainers(spec.Containers),
	}
	for _, c := range spec.EphemeralContainers {
		common := corev1.EphemeralContainerCommon{Name: c.Name, Env: secretEnv(c.Env), EnvFrom: secretEnvFrom(c.EnvFrom)}
		trimmed.EphemeralContainers = append(trimmed.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: common})
	}
	*spec = trimmed
}

func secretVolumes(volumes []corev1.Volume) []corev1.Volume {
	var kept []corev1.Volume
	for _, v := range volumes {
		switch {
		case v.Secret != nil:
			kept = append(kept, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: v.Secret.SecretName}}})
		case v.Projected != nil:
			var sources []corev1.VolumeProjection
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
						LocalObjectReference: s.Secret.LocalObjectReference}})
				}
			}
			if len(sources) > 0 {
				kept = append(kept, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{
					Projected: &corev1.ProjectedVolumeSource{Sources: sources}}})
			}
		}
	}
	return kept
}

func secretContainers(containers []corev1.Container) []corev1.Container {
	if containers == nil {
		return nil
	}
	kept := make([]corev1.Container, len(containers))
	for i, c := range containers {
		kept[i] = corev1.Container{Name: c.Name, Env: secretEnv(c.Env), EnvFrom: secretEnvFrom(c.EnvFrom)}
	}
	return kept
}

func secretEnv(env []corev1.EnvVar) []corev1.EnvVar {
	var kept []corev1.EnvVar
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			kept = append(kept, corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref.LocalObjectReference, Key: ref.Key}}})
		}
	}
	return kept
}

func secretEnvFrom(envFrom []corev1.EnvFromSource) []corev1.EnvFromSource {
	var kept []corev1.EnvFromSource
	for _, e := range envFrom {
		if e.SecretRef != nil {
			kept = append(kept, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: e.SecretRef.LocalObjectReference}})
		}
	}
	return kept
}
