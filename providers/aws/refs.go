package aws

import (
	"slices"
	"sort"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Refs implements providers.Vault for stores of ESO's AWS provider. For
// service ParameterStore, see parameterRefs; for SecretsManager: the secrets es reads at a staging label, with the
// store's prefix, through the store's identity as ESO reaches it for es. A
// remoteRef pinned to a version ID never rotates and is left out; one that
// reads a label other than AWSCURRENT (a blue/green switch) rotates when
// that label moves; a dataFrom.find becomes a pattern the sweep expands.
func (p *Poller) Refs(es *esv1.ExternalSecret, store *esv1.SecretStoreSpec) []providers.Ref {
	if store == nil || store.Provider == nil || store.Provider.AWS == nil {
		return nil
	}
	aws := store.Provider.AWS
	switch aws.Service {
	case esv1.AWSServiceSecretsManager:
	case esv1.AWSServiceParameterStore:
		return parameterRefs(es, aws)
	default:
		return nil
	}
	storeID := StoreOf(aws, es.Spec.SecretStoreRef.Kind, es.Namespace).ID()
	var refs []providers.Ref
	add := func(ref providers.Ref) {
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	addRemote := func(remote esv1.ExternalSecretDataRemoteRef) {
		if label, follows := followedLabel(remote.Version); remote.Key != "" && follows {
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
		if find := from.Find; find != nil {
			pattern := providers.Ref{Store: storeID, Path: aws.Prefix + valueOf(find.Path), Tags: canonicalTags(find.Tags)}
			if find.Name != nil {
				pattern.NameRegexp = find.Name.RegExp
			}
			add(pattern)
		}
	}
	return refs
}

// parameterRefs are the parameters es reads through a Parameter Store store,
// at their latest version, with the store's prefix. A remoteRef.version (a
// version number or a label: "name:version") pins it. A dataFrom.find is a
// pattern as ESO reads it: by name (a regexp, under a path, "/" by default;
// its tags are then ignored), else by tags (and path).
func parameterRefs(es *esv1.ExternalSecret, aws *esv1.AWSProvider) []providers.Ref {
	storeID := StoreOf(aws, es.Spec.SecretStoreRef.Kind, es.Namespace).ID()
	var refs []providers.Ref
	add := func(remote esv1.ExternalSecretDataRemoteRef) {
		ref := providers.Ref{Store: storeID, Key: aws.Prefix + remote.Key}
		if remote.Key != "" && remote.Version == "" && !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	for _, data := range es.Spec.Data {
		add(data.RemoteRef)
	}
	for _, from := range es.Spec.DataFrom {
		if from.Extract != nil {
			add(*from.Extract)
		}
		if find := from.Find; find != nil && (find.Name != nil || len(find.Tags) > 0) {
			pattern := providers.Ref{Store: storeID, Path: valueOf(find.Path)}
			if find.Name != nil {
				pattern.NameRegexp = find.Name.RegExp
			} else {
				pattern.Tags = canonicalTags(find.Tags)
			}
			if !slices.Contains(refs, pattern) {
				refs = append(refs, pattern)
			}
		}
	}
	return refs
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

func valueOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
