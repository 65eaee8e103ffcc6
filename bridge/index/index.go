// Package index holds the cache's field indexes that route a change — of a
// Secret, an ExternalSecret or a workload — to the objects it concerns, so
// that no reconcile lists a namespace.
package index

import (
	"context"
	"fmt"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrl "sigs.k8s.io/controller-runtime"
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
	// TargetSecret on an ExternalSecret: the Secret it writes.
	TargetSecret = "eso-bridge.io/target-secret"
	// TraceID on an ExternalSecret: the trace ID of the rotation
	// eso-bridge last triggered on it.
	TraceID = "eso-bridge.io/trace-id"
	// RolloutWorkloads on an ExternalSecret: the workloads its rollout
	// annotation names, as "kind/name" (lower-case kind).
	RolloutWorkloads = "eso-bridge.io/rollout-workloads"
)

// Setup registers the indexes on the manager's cache, for kinds.
func Setup(ctx context.Context, mgr ctrl.Manager, kinds []workload.Kind) error {
	indexer := mgr.GetFieldIndexer()
	for _, kind := range kinds {
		if err := indexer.IndexField(ctx, kind.New(), SecretRefs, func(obj client.Object) []string {
			return workload.SecretsUsedBy(kind.PodTemplate(obj))
		}); err != nil {
			return fmt.Errorf("indexing %s by Secret: %w", kind.Kind(), err)
		}
		if err := indexer.IndexField(ctx, kind.New(), FollowedExternalSecrets, func(obj client.Object) []string {
			// An unparsable list indexes nothing; the reconciler reports it.
			names, _ := annotations.ParseNameList(obj.GetAnnotations()[annotations.AnnotationExternalSecrets])
			return names
		}); err != nil {
			return fmt.Errorf("indexing %s by followed ExternalSecret: %w", kind.Kind(), err)
		}
	}
	if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, TargetSecret, func(obj client.Object) []string {
		return []string{eso.TargetSecret(obj.(*esv1.ExternalSecret))}
	}); err != nil {
		return fmt.Errorf("indexing ExternalSecrets by target Secret: %w", err)
	}
	if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, RolloutWorkloads, func(obj client.Object) []string {
		// An unparsable policy indexes nothing; the checker reports it.
		policy, _ := annotations.ParseRolloutPolicy(obj.GetAnnotations()[annotations.AnnotationRollout])
		keys := make([]string, 0, len(policy.Workloads))
		for _, w := range policy.Workloads {
			keys = append(keys, workload.Key(w.Kind, w.Name))
		}
		return keys
	}); err != nil {
		return fmt.Errorf("indexing ExternalSecrets by named workload: %w", err)
	}
	if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, TraceID, func(obj client.Object) []string {
		if sc := traceparent.Parse(obj.GetAnnotations()[annotations.AnnotationTraceparent]); sc.IsValid() {
			return []string{sc.TraceID().String()}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing ExternalSecrets by trace: %w", err)
	}
	return nil
}
