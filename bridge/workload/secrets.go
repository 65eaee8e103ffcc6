package workload

import corev1 "k8s.io/api/core/v1"

// SecretsUsedBy returns the names of the Secrets a pod template reads: env
// secretKeyRef, envFrom secretRef, secret volumes and projected secret
// sources, in init, regular and ephemeral containers.
func SecretsUsedBy(template *corev1.PodTemplateSpec) []string {
	return secretsUsedBy(&template.Spec)
}

func secretsUsedBy(spec *corev1.PodSpec) []string {
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
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
