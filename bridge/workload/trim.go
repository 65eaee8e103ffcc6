package workload

import corev1 "k8s.io/api/core/v1"

// TrimPodSpec keeps of spec only what SecretsUsedBy returns: the names of
// the Secrets it reads, each once and in the same order, as the sources of
// one projected volume — the smallest typed form of a list of names (96
// bytes a name, and 290 for the volume). No container is kept, nor which
// container or volume reads a Secret, nor images, probes, resources or
// scheduling: no decision reads them, and a container alone is 408 bytes,
// an environment variable from a Secret about 140, in every cached
// workload. The restart patch is a merge patch computed between two copies
// of the cached object: what the cache does not hold is left as the API
// server has it.
func TrimPodSpec(spec *corev1.PodSpec) {
	names := secretsUsedBy(spec)
	*spec = corev1.PodSpec{}
	if len(names) == 0 {
		return
	}
	sources := make([]corev1.VolumeProjection, len(names))
	for i, name := range names {
		sources[i].Secret = &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
	}
	spec.Volumes = []corev1.Volume{{VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}}}
}
