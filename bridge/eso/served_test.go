package eso

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The start check reads the cluster's discovery document: ESO missing, and
// an ESO too old to serve v1, are refused with a sentence naming the
// supported releases; a cluster that serves v1 (beside older versions) is
// accepted.
func TestRequireServedNamesTheSupportedReleases(t *testing.T) {
	group := func(name string, versions ...string) metav1.APIGroup {
		g := metav1.APIGroup{Name: name}
		for _, v := range versions {
			g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + v, Version: v})
		}
		return g
	}
	tests := []struct {
		name   string
		groups []metav1.APIGroup
		want   string // "" for accepted
	}{
		{"no ESO", []metav1.APIGroup{group("apps", "v1")}, "serves no external-secrets.io API"},
		{"ESO v0.9, v1beta1 only", []metav1.APIGroup{group("external-secrets.io", "v1beta1", "v1alpha1")}, "serves external-secrets.io v1beta1, v1alpha1, not v1"},
		{"ESO v0.20", []metav1.APIGroup{group("apps", "v1"), group("external-secrets.io", "v1", "v1beta1")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RequireServed(&metav1.APIGroupList{Groups: tt.groups})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), SupportedVersions)):
				t.Errorf("err = %v, want one saying %q and naming %q", err, tt.want, SupportedVersions)
			}
		})
	}
}
