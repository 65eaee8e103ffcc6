package bridge

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/discovery"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/trace"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	clientevents "k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/eso-bridge/eso-bridge/bridge/cachetrim"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/metricsauth"
	"github.com/eso-bridge/eso-bridge/bridge/scope"
	"github.com/eso-bridge/eso-bridge/bridge/tracing"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/providers"
)

// Scheme holds the built-in types eso-bridge reads — core/v1, apps/v1 with
// Deployments as workload.DeploymentRecord, batch/v1 — and ESO's v1 API.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(batchv1.AddToScheme(scheme))
	utilruntime.Must(workload.AddRecordsToScheme(scheme))
	utilruntime.Must(esv1.AddToScheme(scheme))
	return scheme
}

// ManagerOptions are the process-level settings of the controller.
type ManagerOptions struct {
	// MetricsAddr serves /metrics; "0" turns it off.
	MetricsAddr string
	// MetricsSecure serves /metrics over HTTPS (a self-signed certificate)
	// to clients the API server authenticates (TokenReview) and authorizes
	// for GET /metrics (SubjectAccessReview).
	MetricsSecure bool
	// HealthAddr serves /healthz and /readyz; "" or "0" turns it off.
	HealthAddr string
	// PprofAddr serves Go's /debug/pprof/ profiles; "" or "0" turns it off.
	PprofAddr string
	// LeaderElection makes only one replica work; the others wait on a Lease.
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// Vault is the vault whose rotations eso-bridge follows (built by the
	// composition root); nil: ESO's status alone drives restarts.
	Vault providers.Vault
	// Tracing says where the spans of rotations go.
	Tracing tracing.Options
	// DigestKeySecret is the Secret that holds the key of eso-bridge's
	// digests (package digest), created with a random key when missing. Its
	// namespace should be eso-bridge's own: only those who can read Secrets
	// there may hold the key.
	DigestKeySecret types.NamespacedName
}

// Run runs the controller until ctx is done. With a namespace selector,
// only the namespaces it matches are cached; when that set changes (a
// namespace labelled, unlabelled or created), the caches are rebuilt: the
// manager stops, releasing its Lease, and starts again on the new set.
func Run(ctx context.Context, cfg *rest.Config, opts Options, mo ManagerOptions) error {
	StreamInitialLists()
	if err := opts.Validate(); err != nil {
		return err
	}
	// Checked before any cache is made: with no namespace matching the
	// selector, the key's namespace stands in for the set to cache.
	if mo.DigestKeySecret.Namespace == "" || mo.DigestKeySecret.Name == "" {
		return fmt.Errorf("the digest key Secret needs a namespace and a name, got %q", mo.DigestKeySecret.String())
	}
	if err := requireESO(cfg); err != nil {
		return err
	}
	inScope, err := scope.New(opts.Namespaces, opts.ExcludeNamespaces, opts.NamespaceSelector)
	if err != nil {
		return err
	}
	for {
		namespaces, err := cachedNamespaces(ctx, cfg, opts, inScope)
		if err != nil {
			return err
		}
		if opts.NamespaceSelector != "" {
			ctrl.Log.Info("caching the namespaces the selector matches", "selector", opts.NamespaceSelector, "namespaces", namespaces)
		}
		err = runManager(ctx, cfg, opts, mo, inScope, namespaces)
		if !errors.Is(err, errNamespacesChanged) {
			return err
		}
		ctrl.Log.Info("the namespaces the selector matches changed: rebuilding the caches", "selector", opts.NamespaceSelector)
	}
}

// runManager runs one manager whose caches hold namespaces (all when nil)
// until ctx is done or, with a namespace selector, the namespaces it
// matches change (errNamespacesChanged).
func runManager(ctx context.Context, cfg *rest.Config, opts Options, mo ManagerOptions, inScope *scope.Scope, namespaces []string) error {
	var cached map[string]cache.Config
	if opts.NamespaceSelector != "" && len(namespaces) == 0 {
		// No namespace matches yet: an empty set would cache them all.
		// The controller's own namespace stands in; the scope keeps
		// eso-bridge off it unless it matches.
		cached = map[string]cache.Config{mo.DigestKeySecret.Namespace: {}}
	} else if namespaces != nil {
		// Only these namespaces are cached, not merely filtered.
		cached = map[string]cache.Config{}
		for _, ns := range namespaces {
			cached[ns] = cache.Config{}
		}
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme,
		Metrics:                       metricsOptions(mo),
		HealthProbeBindAddress:        mo.HealthAddr,
		PprofBindAddress:              mo.PprofAddr,
		LeaderElection:                mo.LeaderElection,
		LeaderElectionID:              mo.LeaderElectionID,
		LeaderElectionNamespace:       mo.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOptions(cached),
		MapperProvider:                newMapper,
		// Argo Rollouts are unstructured; they are read from the cache, with
		// its indexes, like every other kind.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		// Controllers are named by kind; a process that starts the manager
		// again (tests, a restart after losing the lease) reuses the names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if opts.NamespaceSelector != "" {
		if err := stopWhenNamespacesChange(ctx, mgr.GetCache(), inScope, namespaces, stop); err != nil {
			return err
		}
	}
	eventsClient, err := eventsv1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	broadcaster := clientevents.NewBroadcaster(&clientevents.EventSinkImpl{Interface: eventsClient})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("starting the event recorder: %w", err)
	}
	defer broadcaster.Shutdown()
	recorder := events.NewRecorder(broadcaster.NewRecorder(Scheme, "eso-bridge"))

	provider, err := mo.Tracing.Provider(ctx)
	if err != nil {
		return fmt.Errorf("setting up tracing: %w", err)
	}
	defer tracing.Shutdown(provider)
	var tracerProvider trace.TracerProvider
	if provider != nil {
		tracerProvider = provider
	}
	// Read once, before the cache starts, past it (the key is the only
	// Secret eso-bridge reads the data of); created, if missing, by the
	// manager's client, whose writes never wait for the cache.
	key, installedAt, err := loadDigestKey(ctx, mgr.GetAPIReader(), mgr.GetClient(), mo.DigestKeySecret)
	if err != nil {
		return err
	}
	wiring := Wiring{Recorder: recorder, Vault: mo.Vault, TracerProvider: tracerProvider, LeaderElection: mo.LeaderElection,
		Key: key, InstalledAt: installedAt}
	if err := Setup(ctx, mgr, opts, wiring); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return err
	}
	if cause := context.Cause(ctx); errors.Is(cause, errNamespacesChanged) {
		return cause
	}
	return nil
}

// cacheOptions caches only what the decisions read: every object trimmed
// (package cachetrim), and of Secrets only the metadata of those ESO
// manages — it labels every Secret it writes, whatever the creation policy,
// and its own cache selects them by that label too. A cluster's other
// Secrets (service-account tokens, Helm releases) are never held.
func cacheOptions(namespaces map[string]cache.Config) cache.Options {
	return cache.Options{
		DefaultNamespaces: namespaces,
		DefaultTransform:  cachetrim.Transform,
		ByObject: map[client.Object]cache.ByObject{
			eso.SecretMetadata(): {Label: eso.ManagedSecrets()},
		},
	}
}

// requireESO refuses a cluster whose ESO does not serve the API eso-bridge
// reads, with a sentence naming the supported releases, before any cache
// waits on it.
func requireESO(cfg *rest.Config) error {
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the discovery client: %w", err)
	}
	groups, err := client.ServerGroups()
	if err != nil {
		return fmt.Errorf("reading the API groups the cluster serves: %w", err)
	}
	return eso.RequireServed(groups)
}

// metricsOptions serves /metrics, uncompressed, as mo says: plain, or over HTTPS to
// clients the API server authenticates and authorizes (package metricsauth,
// which asks it with TokenReviews and SubjectAccessReviews and caches the
// answers).
func metricsOptions(mo ManagerOptions) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: mo.MetricsAddr, FilterProvider: uncompressed(nil)}
	if mo.MetricsSecure {
		opts.SecureServing = true
		opts.FilterProvider = uncompressed(metricsauth.Filter)
	}
	return opts
}
