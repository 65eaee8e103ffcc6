package bridge

import (
	"context"
	"fmt"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Field indexes that route a change to the workloads it concerns.
const (
	// indexSecretRefs on a workload: the Secrets its pod template uses.
	indexSecretRefs = "eso-bridge.io/secret-refs"
	// indexFollowedExternalSecrets on a workload: the ExternalSecrets its
	// annotation follows.
	indexFollowedExternalSecrets = "eso-bridge.io/followed-externalsecrets"
	// indexTargetSecret on an ExternalSecret: the Secret it writes.
	indexTargetSecret = "eso-bridge.io/target-secret"
	// indexTraceID on an ExternalSecret: the trace ID of the rotation
	// eso-bridge last triggered on it.
	indexTraceID = "eso-bridge.io/trace-id"
	// indexRolloutWorkloads on an ExternalSecret: the workloads its rollout
	// annotation names, as "kind/name" (lower-case kind).
	indexRolloutWorkloads = "eso-bridge.io/rollout-workloads"
)

// workloadKey is a workload's value in indexRolloutWorkloads.
func workloadKey(kind, name string) string { return strings.ToLower(kind) + "/" + name }

func setupIndexes(ctx context.Context, mgr ctrl.Manager, kinds []WorkloadKind) error {
	indexer := mgr.GetFieldIndexer()
	for _, kind := range kinds {
		if err := indexer.IndexField(ctx, kind.New(), indexSecretRefs, func(obj client.Object) []string {
			return secretsUsedBy(kind.PodTemplate(obj))
		}); err != nil {
			return fmt.Errorf("indexing %s by Secret: %w", kind.Kind(), err)
		}
		if err := indexer.IndexField(ctx, kind.New(), indexFollowedExternalSecrets, func(obj client.Object) []string {
			// An unparsable list indexes nothing; the reconciler reports it.
			names, _ := ParseNameList(obj.GetAnnotations()[AnnotationExternalSecrets])
			return names
		}); err != nil {
			return fmt.Errorf("indexing %s by followed ExternalSecret: %w", kind.Kind(), err)
		}
	}
	if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, indexTargetSecret, func(obj client.Object) []string {
		return []string{TargetSecret(obj.(*esv1.ExternalSecret))}
	}); err != nil {
		return fmt.Errorf("indexing ExternalSecrets by target Secret: %w", err)
	}
	if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, indexRolloutWorkloads, func(obj client.Object) []string {
		// An unparsable policy indexes nothing; the checker reports it.
		policy, _ := ParseRolloutPolicy(obj.GetAnnotations()[AnnotationRollout])
		keys := make([]string, 0, len(policy.Workloads))
		for _, w := range policy.Workloads {
			keys = append(keys, workloadKey(w.Kind, w.Name))
		}
		return keys
	}); err != nil {
		return fmt.Errorf("indexing ExternalSecrets by named workload: %w", err)
	}
	if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, indexTraceID, func(obj client.Object) []string {
		if sc := parseTraceparent(obj.GetAnnotations()[AnnotationTraceparent]); sc.IsValid() {
			return []string{sc.TraceID().String()}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing ExternalSecrets by trace: %w", err)
	}
	return nil
}
