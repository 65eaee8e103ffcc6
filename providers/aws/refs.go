package aws

import (
	"slices"
	"sort"
	"strings"
	"unique"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Refs implements providers.Vault for stores of ESO's AWS provider: the
// secrets or parameters es reads, with the store's prefix, through the
// store's identity as ESO reaches it for es, each read as its service reads
// it (see secretsManagerRefs and parameterStoreRefs); a dataFrom.find
// becomes a pattern the sweep expands.
func (p *Poller) Refs(es *esv1.ExternalSecret, store *esv1.SecretStoreSpec) []providers.Ref {
	if store == nil || store.Provider == nil || store.Provider.AWS == nil {
		return nil
	}
	aws := store.Provider.AWS
	var rules refRules
	switch aws.Service {
	case esv1.AWSServiceSecretsManager:
		rules = secretsManagerRefs
	case esv1.AWSServiceParameterStore:
		rules = parameterStoreRefs
	default:
		return nil
	}
	// Interned: every ExternalSecret of a store holds its ID in each of its
	// refs, kept by the trigger and the poller for as long as it is
	// followed, and an ID naming a role and a credentials Secret is a
	// hundred bytes or more.
	storeID := unique.Make(StoreOf(aws, es.Spec.SecretStoreRef.Kind, es.Namespace).ID()).Value()
	var refs []providers.Ref
	add := func(ref providers.Ref) {
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	addRemote := func(remote esv1.ExternalSecretDataRemoteRef) {
		if label, follows := rules.label(remote.Version); remote.Key != "" && follows {
			add(providers.Ref{Store: storeID, Key: aws.Prefix + remote.Key, Label: label})
		}
	}
	for _, data := range es.Spec.Data {
		addRemote(data.RemoteRef)
	}
	for _, from := range es.Spec.DataFrom {
		if from.Extract != nil {
			addRemote(*from.Extract)
		}
		if from.Find != nil {
			if pattern, ok := rules.pattern(from.Find, aws.Prefix); ok {
				pattern.Store = storeID
				add(pattern)
			}
		}
	}
	return refs
}

// refRules are how one service of ESO's AWS provider reads an
// ExternalSecret's references.
type refRules struct {
	// label is the label a remoteRef.version follows ("" for the current
	// version); follows is false when the version pins it.
	label func(version string) (label string, follows bool)
	// pattern is the pattern of a dataFrom.find (its Store left to the
	// caller); ok is false when ESO refuses the find.
	pattern func(find *esv1.ExternalSecretFind, prefix string) (pattern providers.Ref, ok bool)
}

// secretsManagerRefs: a remoteRef pinned to a version ID never rotates; one
// that reads a label other than AWSCURRENT (a blue/green switch) rotates
// when that label moves. A find selects by path (under the prefix), name
// and tags together.
var secretsManagerRefs = refRules{
	label: followedLabel,
	pattern: func(find *esv1.ExternalSecretFind, prefix string) (providers.Ref, bool) {
		pattern := providers.Ref{Path: prefix + valueOf(find.Path), Tags: canonicalTags(find.Tags)}
		if find.Name != nil {
			pattern.NameRegexp = find.Name.RegExp
		}
		return pattern, true
	},
}

// parameterStoreRefs: parameters are read at their latest version, and a
// remoteRef.version (a version number or a label: "name:version") pins one.
// A find selects by name (a regexp, under a path, "/" by default; its tags
// are then ignored), else by tags (and path); ESO applies no prefix to it,
// and refuses a find with neither.
var parameterStoreRefs = refRules{
	label: func(version string) (string, bool) { return "", version == "" },
	pattern: func(find *esv1.ExternalSecretFind, _ string) (providers.Ref, bool) {
		pattern := providers.Ref{Path: valueOf(find.Path)}
		switch {
		case find.Name != nil:
			pattern.NameRegexp = find.Name.RegExp
		case len(find.Tags) > 0:
			pattern.Tags = canonicalTags(find.Tags)
		default:
			return providers.Ref{}, false
		}
		return pattern, true
	},
}

// followedLabel is the staging label a remoteRef.version reads, as ESO
// reads it: "" for AWSCURRENT (empty, or that label itself), the label for
// any other; "uuid/..." pins a version, which is not followed.
func followedLabel(version string) (label string, follows bool) {
	switch {
	case version == "" || version == LabelCurrent:
		return "", true
	case strings.HasPrefix(version, "uuid/"):
		return "", false
	}
	return version, true
}

// canonicalTags writes tags as "k=v,..." sorted by key.
func canonicalTags(tags map[string]string) string {
	pairs := make([]string, 0, len(tags))
	for k, v := range tags {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// tagPairs reverses canonicalTags: the [key, value] pairs of "k=v,...".
func tagPairs(tags string) [][2]string {
	if tags == "" {
		return nil
	}
	var pairs [][2]string
	for _, pair := range strings.Split(tags, ",") {
		key, value, _ := strings.Cut(pair, "=")
		pairs = append(pairs, [2]string{key, value})
	}
	return pairs
}

func valueOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
