package workload

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestTrimPodSpecKeepsTheSecretsUsedOnceEach(t *testing.T) {
	envFrom := func(secret string) corev1.EnvFromSource {
		return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}
	}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"no Secret", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}, nil},
		{"one Secret read by two containers and a volume", corev1.PodSpec{
			Volumes:    []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}}},
			Containers: []corev1.Container{{Name: "app", EnvFrom: []corev1.EnvFromSource{envFrom("db"), envFrom("tls")}}, {Name: "sidecar", EnvFrom: []corev1.EnvFromSource{envFrom("db")}}},
		}, []string{"tls", "db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			TrimPodSpec(&spec)
			if got := SecretsUsedBy(&corev1.PodTemplateSpec{Spec: spec}); !slices.Equal(got, tc.want) {
				t.Errorf("trimmed spec uses %v, want %v", got, tc.want)
			}
			if len(spec.Containers) > 0 || len(spec.Volumes) > 1 {
				t.Errorf("trimmed spec keeps more than one volume of names: %+v", spec)
			}
		})
	}
}
