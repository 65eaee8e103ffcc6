package bridge

import (
	"context"
	"fmt"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"go.opentelemetry.io/otel/trace"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// Scheme holds the built-in types and ESO's v1 API.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(esv1.AddToScheme(scheme))
	return scheme
}

// ManagerOptions are the process-level settings of the controller.
type ManagerOptions struct {
	// MetricsAddr serves /metrics; "0" turns it off.
	MetricsAddr string
	// HealthAddr serves /healthz and /readyz; "" or "0" turns it off.
	HealthAddr string
	// LeaderElection makes only one replica work; the others wait on a Lease.
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// AWS turns on the AWS Secrets Manager provider; nil leaves it off.
	AWS *AWSOptions
	// Tracing says where the spans of rotations go.
	Tracing TracingOptions
}

// AWSOptions configure the AWS Secrets Manager provider.
type AWSOptions struct {
	// PollInterval is the time between sweeps of Secrets Manager.
	PollInterval time.Duration
	// Clients builds the client of a store; awsprovider.DefaultClients when nil.
	Clients awsprovider.ClientFactory
	// CallTimeout bounds each AWS call; awsprovider.DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// EventQueueURL is an SQS queue that an EventBridge rule fills with
	// Secrets Manager events; empty leaves events off (sweep only).
	EventQueueURL string
	// Queue is the SQS client of EventQueueURL; the default credential chain
	// when nil.
	Queue awsprovider.QueueAPI
}

// Run runs the controller until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, opts Options, mo ManagerOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	var namespaces map[string]cache.Config
	if len(opts.Namespaces) > 0 {
		// Only these namespaces are cached, not merely filtered.
		namespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			namespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme,
		Metrics:                       metricsserver.Options{BindAddress: mo.MetricsAddr},
		HealthProbeBindAddress:        mo.HealthAddr,
		LeaderElection:                mo.LeaderElection,
		LeaderElectionID:              mo.LeaderElectionID,
		LeaderElectionNamespace:       mo.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cache.Options{DefaultNamespaces: namespaces},
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
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: clientset.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("starting the event recorder: %w", err)
	}
	defer broadcaster.Shutdown()
	recorder := Recorder{EventRecorder: broadcaster.NewRecorder(Scheme, "eso-bridge")}

	var vault providers.Source
	if mo.AWS != nil {
		metrics := NewMetrics(nil)
		poller := &awsprovider.Poller{Interval: mo.AWS.PollInterval, Clients: mo.AWS.Clients, CallTimeout: mo.AWS.CallTimeout,
			Calls: metrics.AWSCalls, Log: ctrl.Log.WithName("aws")}
		vault = poller
		if mo.AWS.EventQueueURL != "" {
			vault = &awsprovider.EventDriven{Poller: poller, Queue: &awsprovider.EventQueue{
				URL: mo.AWS.EventQueueURL, Client: mo.AWS.Queue, Poller: poller,
				Events: metrics.AWSEvents, EventToTrigger: metrics.EventToTrigger, Log: ctrl.Log.WithName("aws-events"),
			}}
		}
	}
	provider, err := mo.Tracing.tracerProvider(ctx)
	if err != nil {
		return fmt.Errorf("setting up tracing: %w", err)
	}
	defer shutdownTracing(provider)
	var tracing trace.TracerProvider
	if provider != nil {
		tracing = provider
	}
	if err := Setup(ctx, mgr, opts, recorder, vault, tracing); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
