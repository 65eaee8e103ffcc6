// Package index holds the cache's field indexes that route a change — of a
// Secret, an ExternalSecret or a workload — to the objects it concerns, so
// that no reconcile lists a namespace.
package index

import (
	"context"
	"fmt"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// Field indexes that route a change to the workloads it concerns.
const (
	// SecretRefs on a workload: the Secrets its pod template uses.
	SecretRefs = "eso-bridge.io/secret-refs"
	// FollowedExternalSecrets on a workload: the ExternalSecrets its
	// annotation follows.
	FollowedExternalSecrets = "eso-bridge.io/followed-externalsecrets"
	// TargetSecret on an ExternalSecret: the Secret it writes, when not
	// named as the ExternalSecret itself; Writers finds both.
	TargetSecret = "eso-bridge.io/target-secret"
	// TraceID on an ExternalSecret: the trace ID of the rotation
	// eso-bridge last triggered on it. On a workload: the trace ID of the
	// rotation its pod template was last restarted for.
	TraceID = "eso-bridge.io/trace-id"
	// RolloutWorkloads on an ExternalSecret: the workloads its rollout
	// annotation names, as "kind/name" (lower-case kind).
	RolloutWorkloads = "eso-bridge.io/rollout-workloads"
	// RollingOut on a workload: "true" while the rollout of a restart
	// eso-bridge made has not been reported (complete or stalled) — what
	// the cap on rollouts in progress counts. Kinds without a rollout
	// (CronJob) are never rolling out.
	RollingOut = "eso-bridge.io/rolling-out"
)

// Rolling is the value of RollingOut on a workload rolling out.
const Rolling = "true"

// ExternalSecretFields are the values each ExternalSecret index gives an
// ExternalSecret. A reader without the cache (the CLI) filters a listing
// with them, so that both find the same objects. TargetSecret's is every
// ExternalSecret's Secret; the index holds only those named otherwise
// (renamedTarget), and Writers finds the rest by name.
var ExternalSecretFields = map[string]func(*esv1.ExternalSecret) []string{
	TargetSecret: func(es *esv1.ExternalSecret) []string { return []string{eso.TargetSecret(es)} },
	RolloutWorkloads: func(es *esv1.ExternalSecret) []string {
		// An unparsable policy indexes nothing; the checker reports it.
		policy, _ := annotations.ParseRolloutPolicy(es.Annotations[annotations.AnnotationRollout])
		keys := make([]string, 0, len(policy.Workloads))
		for _, w := range policy.Workloads {
			keys = append(keys, workload.Key(w.Kind, w.Name))
		}
		return keys
	},
	TraceID: func(es *esv1.ExternalSecret) []string { return traceIDOf(es.Annotations) },
}

// WorkloadFields are the values each workload index gives an object of
// kind; see ExternalSecretFields.
func WorkloadFields(kind workload.Kind) map[string]func(client.Object) []string {
	return map[string]func(client.Object) []string{
		SecretRefs: func(obj client.Object) []string { return kind.SecretsUsed(obj) },
		FollowedExternalSecrets: func(obj client.Object) []string {
			// An unparsable list indexes nothing; the reconciler reports it.
			names, _ := annotations.ParseNameList(obj.GetAnnotations()[annotations.AnnotationExternalSecrets])
			return names
		},
		TraceID: func(obj client.Object) []string { return traceIDOf(kind.TemplateAnnotations(obj)) },
		RollingOut: func(obj client.Object) []string {
			if !IsRollingOut(kind, obj) {
				return nil
			}
			return []string{Rolling}
		},
	}
}

// IsRollingOut reports whether obj, of kind, is in the RollingOut index:
// the rollout of a restart eso-bridge made is unreported, and kind has
// rollouts (a CronJob has none).
func IsRollingOut(kind workload.Kind, obj client.Object) bool {
	if !annotations.RolloutUnreported(obj.GetAnnotations(), kind.TemplateAnnotations(obj)) {
		return false
	}
	_, hasRollout := kind.Progress(obj)
	return hasRollout
}

// traceIDOf is the trace ID of the traceparent among annotations, if any.
func traceIDOf(annots map[string]string) []string {
	if sc := traceparent.Parse(annots[annotations.AnnotationTraceparent]); sc.IsValid() {
		return []string{sc.TraceID().String()}
	}
	return nil
}

// Setup registers the indexes on the informers of the manager's cache, for
// kinds.
func Setup(ctx context.Context, mgr ctrl.Manager, kinds []workload.Kind) error {
	for _, kind := range kinds {
		if err := addIndexers(ctx, mgr.GetCache(), kind.New(), WorkloadIndexers(kind)); err != nil {
			return fmt.Errorf("indexing %ss: %w", kind.Kind(), err)
		}
	}
	if err := addIndexers(ctx, mgr.GetCache(), &esv1.ExternalSecret{}, ExternalSecretIndexers()); err != nil {
		return fmt.Errorf("indexing ExternalSecrets: %w", err)
	}
	return nil
}

func addIndexers(ctx context.Context, c cache.Cache, obj client.Object, indexers toolscache.Indexers) error {
	informer, err := c.GetInformer(ctx, obj)
	if err != nil {
		return err
	}
	return informer.AddIndexers(indexers)
}

// WorkloadIndexers are the client-go indexers of WorkloadFields for an
// informer of kind.
func WorkloadIndexers(kind workload.Kind) toolscache.Indexers {
	indexers := toolscache.Indexers{}
	for field, values := range WorkloadFields(kind) {
		indexers[fieldIndexName(field)] = keys(field, values)
	}
	return indexers
}

// ExternalSecretIndexers are the client-go indexers of ExternalSecretFields,
// TargetSecret's narrowed to the ExternalSecrets named otherwise than their
// Secret.
func ExternalSecretIndexers() toolscache.Indexers {
	indexers := toolscache.Indexers{}
	for field, values := range ExternalSecretFields {
		if field == TargetSecret {
			values = renamedTarget
		}
		indexers[fieldIndexName(field)] = keys(field, func(obj client.Object) []string { return values(obj.(*esv1.ExternalSecret)) })
	}
	return indexers
}

// acrossNamespaces are the fields looked up across namespaces: the cap on
// rollouts in progress counts them in the whole cluster. Every other field
// is only ever looked up in one namespace (client.InNamespace), and a
// lookup of one across namespaces would find nothing.
var acrossNamespaces = map[string]bool{RollingOut: true}

// The index names and keys controller-runtime's cache reader looks up for
// client.MatchingFields: "field:" and the field; the namespace, "/" and the
// value, or allNamespaces in place of the namespace for a lookup across
// them (sigs.k8s.io/controller-runtime/pkg/cache/internal, FieldIndexName
// and KeyToNamespacedKey).
const (
	fieldIndexPrefix = "field:"
	allNamespaces    = "__all_namespaces"
)

func fieldIndexName(field string) string { return fieldIndexPrefix + field }

// keys makes the index keys of field's values for an object. Unlike
// controller-runtime's IndexField, which keys every value twice, in its
// namespace and across namespaces, it keys a value across namespaces only
// for the fields looked up so. Each key is a set of its own in the
// index: keyed twice, the one value an ExternalSecret or a Deployment of a
// fleet has indexed costs 822 bytes of heap, keyed once 480
// (BenchmarkRetained, package cachetrim).
func keys(field string, values func(client.Object) []string) toolscache.IndexFunc {
	across := acrossNamespaces[field]
	return func(raw any) ([]string, error) {
		obj, ok := raw.(client.Object)
		if !ok {
			return nil, fmt.Errorf("indexing %s: %T is not an object", field, raw)
		}
		vals := values(obj)
		if len(vals) == 0 {
			return nil, nil
		}
		ns := obj.GetNamespace()
		keys := make([]string, 0, 2*len(vals))
		for _, v := range vals {
			if ns != "" {
				keys = append(keys, ns+"/"+v)
			}
			if across || ns == "" {
				keys = append(keys, allNamespaces+"/"+v)
			}
		}
		return keys, nil
	}
}
