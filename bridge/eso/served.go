package eso

import (
	"fmt"
	"slices"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SupportedVersions names the ESO releases eso-bridge works with, for
// people: those that serve external-secrets.io/v1, and the ones its tests run.
const SupportedVersions = "ESO v0.17 or newer (tested with v0.17.0 and v0.20.4)"

// RequireServed says, from the API groups a cluster serves, why eso-bridge
// cannot run there: ESO is not installed, or serves no
// external-secrets.io/v1 (a release older than SupportedVersions). nil when
// it can. Checked at start, so that the answer is a sentence, not a cache
// that never syncs.
func RequireServed(groups *metav1.APIGroupList) error {
	group := esv1.SchemeGroupVersion.Group
	var served []string
	for _, g := range groups.Groups {
		if g.Name != group {
			continue
		}
		for _, v := range g.Versions {
			served = append(served, v.Version)
		}
	}
	switch {
	case len(served) == 0:
		return fmt.Errorf("this cluster serves no %s API: install External Secrets Operator first, %s", group, SupportedVersions)
	case !slices.Contains(served, esv1.SchemeGroupVersion.Version):
		return fmt.Errorf("this cluster's External Secrets Operator serves %s %s, not %s: eso-bridge needs %s",
			group, strings.Join(served, ", "), esv1.SchemeGroupVersion.Version, SupportedVersions)
	}
	return nil
}
