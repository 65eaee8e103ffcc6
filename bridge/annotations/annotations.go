// Package annotations names every annotation eso-bridge reads or writes and
// parses the ones users write. It imports no client: what a value means is
// decided here, what is done about it elsewhere.
package annotations

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Prefix is the prefix of every annotation eso-bridge reads or writes.
const Prefix = "eso-bridge.io/"

// Annotations a user sets. All carry the eso-bridge.io/ prefix.
const (
	// AnnotationRollout on an ExternalSecret: "auto" restarts every workload in
	// the namespace whose pod template uses the ES's target Secret; a list such
	// as "deployment/api, statefulset/db" restarts exactly those; "off" or
	// absent triggers nothing unless a workload opts in.
	AnnotationRollout = "eso-bridge.io/rollout"
	// AnnotationAuto on a workload: "true" restarts it when any ESO-managed
	// Secret its pod template uses changes.
	AnnotationAuto = "eso-bridge.io/auto"
	// AnnotationExternalSecrets on a workload: a comma-separated list of
	// ExternalSecrets in the workload's namespace to follow, even if the pod
	// template does not name their Secrets.
	AnnotationExternalSecrets = "eso-bridge.io/externalsecrets"
	// AnnotationIgnore on a workload: "true" means never restart it.
	AnnotationIgnore = "eso-bridge.io/ignore"
)

// Annotations eso-bridge writes.
const (
	// AnnotationSourceHash is the digest of the workload's sources (sorted
	// Secret name and ESO data-hash pairs). On the workload's metadata it is the
	// hash eso-bridge last adopted or rolled to; on the pod template, the hash
	// the template was rolled for.
	AnnotationSourceHash = "eso-bridge.io/source-hash"
	// AnnotationSourceDigests on the workload's metadata records each
	// source's digest (Secret name and ESO data-hash) as last adopted or
	// rolled to: "secret=digest,..." sorted by Secret. A restart is for a
	// source whose digest changed; a source added or removed is re-adopted.
	AnnotationSourceDigests = "eso-bridge.io/source-digests"
	// AnnotationDigestKey on the workload's metadata is the ID of the key
	// the source hash and digests were made with (not the key): digests made
	// with a key since replaced are re-adopted, never taken for a change.
	AnnotationDigestKey = "eso-bridge.io/digest-key"
	// AnnotationRestartedAt on the pod template is when eso-bridge restarted it
	// (RFC 3339); changing it is what rolls the pods.
	AnnotationRestartedAt = "eso-bridge.io/restarted-at"
	// AnnotationTraceparent is the W3C traceparent of a rotation: on an
	// ExternalSecret, the one eso-bridge triggered (ESO copies it onto the
	// Secret when there is no target template); on a pod template, and so on
	// each new pod, the one the restart was for.
	AnnotationTraceparent = "eso-bridge.io/traceparent"
	// AnnotationWrittenAt on the pod template is when ESO wrote the newest
	// source the restart was for (RFC 3339, as eso-bridge saw it).
	AnnotationWrittenAt = "eso-bridge.io/written-at"
	// AnnotationRolloutResult on the workload's metadata records how the
	// rollout of the last restart ended (JSON: outcome, finishedAt,
	// restartedAt, revision, message), so that it is reported once, even
	// across controller restarts.
	AnnotationRolloutResult = "eso-bridge.io/rollout-result"
)

// Annotations the vault trigger writes on an ExternalSecret. Any annotation
// change makes ESO refresh at once (when refreshInterval > 0), and without a
// target template ESO copies them onto the Secret.
const (
	// AnnotationVaultVersions lists the current vault version of each remote
	// secret the ExternalSecret reads: "key=versionID,..." sorted by key.
	AnnotationVaultVersions = "eso-bridge.io/vault-versions"
	// AnnotationVaultChangedAt is the vault's own time of the newest change (RFC 3339).
	AnnotationVaultChangedAt = "eso-bridge.io/vault-changed-at"
	// AnnotationTriggeredAt is when eso-bridge triggered the refresh (RFC 3339).
	AnnotationTriggeredAt = "eso-bridge.io/triggered-at"
	// AnnotationVaultARNs lists the ARNs of the remote secrets, where the
	// vault reports them: "key=arn,..." sorted by key.
	AnnotationVaultARNs = "eso-bridge.io/vault-arns"
)

// Values of AnnotationRollout with a special meaning.
const (
	rolloutAuto = "auto"
	rolloutOff  = "off"
)

// WorkloadRef names a workload in the ExternalSecret's own namespace.
type WorkloadRef struct {
	// Kind is the lower-case kind: deployment, statefulset, daemonset, cronjob, rollout.
	Kind string
	Name string
}

// String is the form the annotation uses: kind/name.
func (w WorkloadRef) String() string { return w.Kind + "/" + w.Name }

// RolloutPolicy is a parsed AnnotationRollout.
type RolloutPolicy struct {
	// Auto restarts every consumer of the target Secret.
	Auto bool
	// Workloads are restarted whether or not their pod template names the Secret.
	Workloads []WorkloadRef
}

// Includes reports whether the policy names the workload of kind and name.
func (p RolloutPolicy) Includes(kind, name string) bool {
	return slices.Contains(p.Workloads, WorkloadRef{Kind: strings.ToLower(kind), Name: name})
}

// kindAliases maps what users write to the kinds eso-bridge restarts.
var kindAliases = map[string]string{
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
	"cronjob": "cronjob", "cronjobs": "cronjob", "cj": "cronjob",
	"rollout": "rollout", "rollouts": "rollout",
}

// CanonicalKind returns the lower-case kind a user meant by name ("deploy",
// "StatefulSets", "sts", ...), and false for a kind eso-bridge does not restart.
func CanonicalKind(name string) (string, bool) {
	kind, ok := kindAliases[strings.ToLower(name)]
	return kind, ok
}

// ParseRolloutPolicy parses the value of AnnotationRollout. An entry naming
// another namespace ("other/deployment/api") is an error: an ExternalSecret
// may only restart workloads in its own namespace.
func ParseRolloutPolicy(value string) (RolloutPolicy, error) {
	value = strings.TrimSpace(value)
	switch strings.ToLower(value) {
	case "", rolloutOff:
		return RolloutPolicy{}, nil
	case rolloutAuto:
		return RolloutPolicy{Auto: true}, nil
	}
	var policy RolloutPolicy
	for _, entry := range SplitList(value) {
		parts := strings.Split(entry, "/")
		switch {
		case len(parts) == 3 && isNamespace(parts[0]) && isKind(parts[1]):
			return RolloutPolicy{}, fmt.Errorf("%s names namespace %s: only workloads in the ExternalSecret's own namespace can be restarted", Quote(entry), Quote(parts[0]))
		case len(parts) != 2:
			return RolloutPolicy{}, fmt.Errorf("%s is not kind/name (want %q, %q, or a list like \"deployment/api, statefulset/db\")", Quote(entry), rolloutAuto, rolloutOff)
		}
		kind, ok := CanonicalKind(parts[0])
		if !ok {
			return RolloutPolicy{}, fmt.Errorf("%s: kind %s is not one of deployment, statefulset, daemonset, cronjob, rollout", Quote(entry), Quote(parts[0]))
		}
		if errs := validation.IsDNS1123Subdomain(parts[1]); len(errs) > 0 {
			return RolloutPolicy{}, fmt.Errorf("%s: %s is not a valid name: %s", Quote(entry), Quote(parts[1]), strings.Join(errs, "; "))
		}
		policy.Workloads = append(policy.Workloads, WorkloadRef{Kind: kind, Name: parts[1]})
	}
	if len(policy.Workloads) == 0 {
		return RolloutPolicy{}, fmt.Errorf("%s names no workload", Quote(value))
	}
	return policy, nil
}

// ParseNameList parses AnnotationExternalSecrets: a comma-separated list of
// names in the workload's own namespace.
func ParseNameList(value string) ([]string, error) {
	var names []string
	for _, name := range SplitList(value) {
		if namespace, _, found := strings.Cut(name, "/"); found && isNamespace(namespace) && strings.Count(name, "/") == 1 {
			return nil, fmt.Errorf("%s names another namespace: only ExternalSecrets in the workload's own namespace can be followed", Quote(name))
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return nil, fmt.Errorf("%s is not a valid name: %s", Quote(name), strings.Join(errs, "; "))
		}
		names = append(names, name)
	}
	return names, nil
}

// ParseBool parses AnnotationAuto and AnnotationIgnore: "true" or "false"
// (any case); absent means false.
func ParseBool(value string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, fmt.Errorf("%s is neither \"true\" nor \"false\"", Quote(value))
}

// SplitList splits on commas and white space and drops empty entries.
func SplitList(value string) []string {
	return strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// quoted is how much of a user's value a message quotes: enough to find it,
// and a message stays within what an Event can hold however long the value.
const quoted = 64

// Quote quotes at most the first 64 bytes of value, marking a cut.
func Quote(value string) string {
	if len(value) <= quoted {
		return strconv.Quote(value)
	}
	cut := quoted
	for cut > 0 && !utf8.RuneStart(value[cut]) {
		cut--
	}
	return strconv.Quote(value[:cut]) + fmt.Sprintf("… (%d bytes)", len(value))
}

// isNamespace reports whether s could name a namespace.
func isNamespace(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// isKind reports whether s names a kind eso-bridge restarts.
func isKind(s string) bool {
	_, ok := CanonicalKind(s)
	return ok
}
