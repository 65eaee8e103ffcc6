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
// of kind and name, whose pod template uses the Secrets named in used. An
// ExternalSecret counts when the workload uses its Secret and either
// --auto-all is on, the workload says auto, or the ExternalSecret says auto;
// and, whether or not its Secret is used, when the workload follows it by name
// or the ExternalSecret names the workload. It also returns the followed names
// that match no ExternalSecret.
func SelectSources(kind, name string, used []string, optIn OptIn, autoAll bool, candidates []Candidate) (selected []*esv1.ExternalSecret, missing []string) {
	found := map[string]bool{}
	for _, c := range candidates {
		es := c.ExternalSecret
		found[es.Name] = true
		uses := slices.Contains(used, eso.TargetSecret(es))
		switch {
		case uses && (autoAll || optIn.Auto || c.Policy.Auto),
			slices.Contains(optIn.Follow, es.Name),
			c.Policy.Includes(kind, name):
			selected = append(selected, es)
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
