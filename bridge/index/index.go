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
// with them, so that both find the same objects.
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
		SecretRefs: func(obj client.Object) []string { return workload.SecretsUsedBy(kind.PodTemplate(obj)) },
		FollowedExternalSecrets: func(obj client.Object) []string {
			// An unparsable list indexes nothing; the reconciler reports it.
			names, _ := annotations.ParseNameList(obj.GetAnnotations()[annotations.AnnotationExternalSecrets])
			return names
		},
		TraceID: func(obj client.Object) []string { return traceIDOf(kind.PodTemplate(obj).Annotations) },
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
	if !annotations.RolloutUnreported(obj.GetAnnotations(), kind.PodTemplate(obj).Annotations) {
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

// Setup registers the indexes on the manager's cache, for kinds.
func Setup(ctx context.Context, mgr ctrl.Manager, kinds []workload.Kind) error {
	indexer := mgr.GetFieldIndexer()
	for _, kind := range kinds {
		for field, values := range WorkloadFields(kind) {
			if err := indexer.IndexField(ctx, kind.New(), field, values); err != nil {
				return fmt.Errorf("indexing %s by %s: %w", kind.Kind(), field, err)
			}
		}
	}
	for field, values := range ExternalSecretFields {
		if err := indexer.IndexField(ctx, &esv1.ExternalSecret{}, field, func(obj client.Object) []string {
			return values(obj.(*esv1.ExternalSecret))
		}); err != nil {
			return fmt.Errorf("indexing ExternalSecrets by %s: %w", field, err)
		}
	}
	return nil
}
