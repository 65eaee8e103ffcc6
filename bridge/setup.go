package bridge

import (
	"context"
	"fmt"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/fanout"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/metrics"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/bridge/rollout"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/scope"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/tracing"
	"github.com/eso-bridge/eso-bridge/bridge/trigger"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/providers"
)

// Wiring is what Setup is handed besides the manager and the options.
type Wiring struct {
	Recorder events.Recorder
	// Vault is nil without one.
	Vault providers.Vault
	// TracerProvider is nil when no spans are exported.
	TracerProvider trace.TracerProvider
	// LeaderElection says whether this replica may be a standby.
	LeaderElection bool
	// Key keys what eso-bridge records where non-readers of Secrets can see
	// it (package digest).
	Key digest.Key
	// InstalledAt is when the key was made: when eso-bridge was installed.
	InstalledAt time.Time
}

// Setup wires everything eso-bridge runs into mgr: the indexes, one restart
// reconciler and one rollout observer per workload kind, the vault trigger
// when there is a vault, the ExternalSecret checker, and the readiness
// check.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options, w Wiring) (err error) {
	if err := opts.Validate(); err != nil {
		return err
	}
	ready := &readiness{cache: mgr.GetCache(), elected: mgr.Elected(), leaderElection: w.LeaderElection}
	inScope, err := scope.New(opts.Namespaces, opts.ExcludeNamespaces, opts.NamespaceSelector)
	if err != nil {
		return err
	}
	kinds := workload.Served(mgr.GetRESTMapper())
	if err := index.Setup(ctx, mgr, kinds); err != nil {
		return err
	}
	// Every replica caches what the restart controllers watch (Secret
	// metadata among it) from the start, not only once elected: a standby
	// that takes over decides at once.
	changes, err := restart.WatchChanges(ctx, mgr.GetCache(), kinds)
	if err != nil {
		return err
	}
	// The collector is tightened now: the caches fill as the manager
	// starts, before any runnable does; the burst loosens it, or this when
	// the manager will not start.
	burst := startBurst{cache: mgr.GetCache(), queues: ctrlmetrics.Registry, elected: mgr.Elected(), every: time.Second, loosen: tightenCollector()}
	defer func() {
		if err != nil {
			burst.loosen()
		}
	}()
	if err := mgr.Add(burst); err != nil {
		return err
	}
	m := metrics.New(nil)
	var tracer *tracing.Tracer
	if w.TracerProvider != nil {
		// Pods are read live, never cached: a cluster's pods are many.
		tracer = tracing.NewTracer(w.TracerProvider, rotation.Loader{Client: mgr.GetClient(), Indexed: true, Pods: mgr.GetAPIReader(), Kinds: kinds, Key: &w.Key,
			Waves: opts.restart().Waves, AutoAll: opts.AutoAll, RestartWindow: opts.restart().RestartWindow})
		if err := mgr.Add(manager.RunnableFunc(tracer.Recheck)); err != nil {
			return err
		}
		onChange(changes, tracer.Touched)
	}
	var versions restart.PendingVersions
	if w.Vault != nil {
		vaultTrigger := &trigger.VaultTrigger{Client: mgr.GetClient(), Vault: w.Vault, Scope: inScope, Recorder: w.Recorder, DryRun: opts.DryRun,
			ExternalSecrets: changes.ExternalSecrets, Detected: func(changedAt time.Time) { m.VaultDetection.Observe(time.Since(changedAt).Seconds()) },
			Confirmed: func(es *esv1.ExternalSecret, d time.Duration) {
				m.TriggerToSync.Observe(d.Seconds())
				if changed := annotations.Time(es.Annotations, annotations.AnnotationVaultChangedAt); changed != nil {
					m.VaultToWrite.Observe(time.Since(*changed).Seconds())
				}
				// A rotation no workload restarts for is traced once the gate
				// has had its chance; a restart's rollout closes it otherwise.
				if tracer != nil {
					sc, namespace := traceparent.Parse(es.Annotations[annotations.AnnotationTraceparent]), es.Namespace
					time.AfterFunc(2*opts.Settle+5*time.Second, func() { tracer.CloseIfFinished(ctx, namespace, sc) })
				}
			},
		}
		if err := vaultTrigger.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the vault trigger: %w", err)
		}
		versions, ready.trigger = vaultTrigger, vaultTrigger
	}
	if err := mgr.AddReadyzCheck("able-to-decide", ready.check); err != nil {
		return err
	}
	limiter := restart.NewLimiter(opts.RolloutsPerSecond, opts.RolloutBurst, opts.NamespaceRolloutsPerSecond, opts.NamespaceRolloutBurst)
	writes := restart.NewWriteObserver()
	rolloutCap := &restart.RolloutCap{Max: opts.MaxRolloutsInProgress, NamespaceMax: opts.NamespaceMaxRolloutsInProgress, Reader: mgr.GetClient(), Kinds: kinds}
	var rolloutTracer rollout.Tracer
	if tracer != nil {
		rolloutTracer = tracer
	}
	m.InvalidAnnotations.WithLabelValues("ExternalSecret") // exported at 0, as ForKind does
	for _, kind := range kinds {
		m.ForKind(kind.Kind())
		r := &restart.Reconciler{
			Client: mgr.GetClient(), Kind: kind, Kinds: kinds, Options: opts.restart(), Scope: inScope, Recorder: w.Recorder,
			Metrics: m, Limiter: limiter, Cap: rolloutCap, Versions: versions, Writes: writes, Changes: changes, Clock: clock.RealClock{}, Key: w.Key,
			Pods: mgr.GetAPIReader(), InstalledAt: w.InstalledAt,
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", kind.Kind(), err)
		}
		// A dry run restarts nothing, so has no rollout to follow, and
		// records no result on a workload an earlier run restarted.
		if opts.DryRun {
			continue
		}
		observer := &rollout.Observer{Client: mgr.GetClient(), Kind: kind, Recorder: w.Recorder, Metrics: m,
			Deadline: opts.RolloutDeadline, Clock: clock.RealClock{}, Tracer: rolloutTracer,
			Changes: changes.Workloads[kind.Kind()]}
		if err := observer.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s rollout observer: %w", kind.Kind(), err)
		}
	}
	checker := &restart.ExternalSecretChecker{Client: mgr.GetClient(), Kinds: kinds, Scope: inScope, Recorder: w.Recorder, Metrics: m,
		ExternalSecrets: changes.ExternalSecrets}
	return checker.SetupWithManager(mgr)
}

// onChange tells touched of every change the cache sees of ExternalSecrets,
// Secrets and workloads (by kind), after the cache holds it.
func onChange(changes *restart.Changes, touched func(kind, namespace, name string)) {
	notify := func(kind string, c *fanout.Changes) {
		changed := func(obj any) {
			if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if m, err := meta.Accessor(obj); err == nil {
				touched(kind, m.GetNamespace(), m.GetName())
			}
		}
		c.Notify(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    changed,
			UpdateFunc: func(_, obj any) { changed(obj) },
			DeleteFunc: changed,
		})
	}
	notify("ExternalSecret", changes.ExternalSecrets)
	notify("Secret", changes.Secrets)
	for kind, c := range changes.Workloads {
		notify(kind, c)
	}
}
