// Package optin decides which ExternalSecrets are a workload's sources: those
// whose Secret it uses and that it, the ExternalSecret or --auto-all opted in,
// and those named across by annotation. It imports no client.
package optin

import (
	"slices"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
)

// OptIn is how a workload asks to be restarted, from its annotations.
type OptIn struct {
	// Auto follows every ESO-managed Secret the pod template uses.
	Auto bool
	// Follow names ExternalSecrets to follow even when the pod template does
	// not use their Secrets.
	Follow []string
}

// Candidate is an ExternalSecret in the workload's namespace with its parsed
// rollout policy. A policy that did not parse is the zero policy (off).
type Candidate struct {
	ExternalSecret *esv1.ExternalSecret
	Policy         annotations.RolloutPolicy
}

// SelectSources picks the ExternalSecrets whose changes restart the workload
// of kind and name, whose pod template uses the Secrets named in used (see
// Why). It also returns the followed names that match no ExternalSecret.
func SelectSources(kind, name string, used []string, optIn OptIn, autoAll bool, candidates []Candidate) (selected []*esv1.ExternalSecret, missing []string) {
	found := map[string]bool{}
	for _, c := range candidates {
		found[c.ExternalSecret.Name] = true
		if ok, _ := Why(kind, name, used, optIn, autoAll, c); ok {
			selected = append(selected, c.ExternalSecret)
		}
	}
	for _, f := range optIn.Follow {
		if !found[f] {
			missing = append(missing, f)
		}
	}
	slices.SortFunc(selected, func(a, b *esv1.ExternalSecret) int { return strings.Compare(a.Name, b.Name) })
	return selected, missing
}

// Why says whether the candidate is a source of the workload of kind and
// name, and why, in a sentence. An ExternalSecret counts when the workload
// uses its Secret and either --auto-all is on, the workload says auto, or
// the ExternalSecret says auto; and, whether or not its Secret is used, when
// the workload follows it by name or the ExternalSecret names the workload.
func Why(kind, name string, used []string, optIn OptIn, autoAll bool, c Candidate) (bool, string) {
	es := c.ExternalSecret
	secret := eso.TargetSecret(es)
	uses := slices.Contains(used, secret)
	usesIt := "the pod template uses Secret " + secret
	switch {
	case uses && autoAll:
		return true, usesIt + ", and --auto-all is on"
	case uses && optIn.Auto:
		return true, usesIt + ", and the workload has " + annotations.AnnotationAuto + ": true"
	case uses && c.Policy.Auto:
		return true, usesIt + ", and the ExternalSecret has " + annotations.AnnotationRollout + ": auto"
	case slices.Contains(optIn.Follow, es.Name):
		return true, "the workload's " + annotations.AnnotationExternalSecrets + " names it"
	case c.Policy.Includes(kind, name):
		return true, "the ExternalSecret's " + annotations.AnnotationRollout + " names " + strings.ToLower(kind) + "/" + name
	case uses:
		return false, usesIt + ", but nothing opts it in (" + annotations.AnnotationAuto + " on the workload, " +
			annotations.AnnotationRollout + " on the ExternalSecret, or --auto-all)"
	}
	return false, "the pod template does not use Secret " + secret + ", and neither annotation names the other"
}
