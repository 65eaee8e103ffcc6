// Package app is eso-bridge's composition root: the flags of each command of
// the controller binary (run, trace), the vaults built from them, and the
// controller they are handed to. Tests and benchmarks run these commands
// in-process, as the binary does.
package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/eso-bridge/eso-bridge/bridge"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// runOptions are the flags of `eso-bridge run`.
type runOptions struct {
	bridge                  bridge.Options
	kubeconfig              string
	context                 string
	metricsAddr             string
	pprofAddr               string
	metricsSecure           bool
	healthAddr              string
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	logFormat               string
	logLevel                string
	awsPollInterval         time.Duration
	awsEventsQueueURLs      []string
	awsReadStoreKeys        bool
	kubeAPIQPS              float64
	kubeAPIBurst            int
	digestKeySecret         string
}

// Sweep intervals of the AWS provider: without events the sweep is how
// rotations are found; with events it only catches the ones that never
// arrived, and can be slow.
const (
	defaultAWSPollInterval   = 30 * time.Second
	defaultAWSPollWithEvents = 10 * time.Minute
	flagAWSPollInterval      = "aws-poll-interval"
	flagAWSEventsQueueURL    = "aws-events-queue-url"
)

// BindFlags registers the options on fs.
func (o *runOptions) BindFlags(fs *flag.FlagSet) {
	o.bridge.BindFlags(fs)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)")
	fs.StringVar(&o.context, "context", "", "the kubeconfig context to use (default: its current context)")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 turns it off")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", false, "serve /metrics over HTTPS, only to clients the API server authenticates and authorizes for GET /metrics (TokenReview, SubjectAccessReview)")
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 turns it off")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "address of Go's /debug/pprof/ profiles (heap, CPU), for a question of memory or CPU; 0 turns it off. Unauthenticated: bind it to loopback and reach it with kubectl port-forward")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect one active replica through a Lease; the others take over if it stops")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "eso-bridge", "name of the Lease; give each installation its own")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the pod's own)")
	fs.StringVar(&o.digestKeySecret, "digest-key-secret", bridge.DefaultDigestKeySecret, "Secret (name, or namespace/name; default namespace: the pod's own, else the kubeconfig's) holding the key of the digests eso-bridge records on workloads and in traces; created with a random key if missing")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: info or debug")
	fs.DurationVar(&o.awsPollInterval, flagAWSPollInterval, defaultAWSPollInterval, "how often AWS Secrets Manager is swept for moved versions of the secrets ExternalSecrets read (default 10m with --aws-events-queue-url); 0 turns the AWS provider off")
	// client-go's own default, 5 requests a second, adopts 5,000 workloads
	// in 17 minutes (the scale benchmark found it); 50 takes under 2.
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 50, "requests per second to the Kubernetes API server, sustained")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 100, "requests to the Kubernetes API server allowed at once")
	fs.Func(flagAWSEventsQueueURL, "URL of an SQS queue an EventBridge rule fills with Secrets Manager events: rotations are heard within a second, and the sweep only catches lost events; repeat it (or separate with commas) for one queue per region your stores read", func(value string) error {
		for _, u := range strings.Split(value, ",") {
			if u = strings.TrimSpace(u); u != "" {
				o.awsEventsQueueURLs = append(o.awsEventsQueueURLs, u)
			}
		}
		return nil
	})
	fs.BoolVar(&o.awsReadStoreKeys, "aws-read-store-keys", false, "read the access keys an auth.secretRef store names (get on those Secrets) to watch its secrets as ESO reads them; off, such stores are not watched and their ExternalSecrets get a Warning")
}

// Run is `eso-bridge run` with args parsed by the standard flag package, as
// tests and benchmarks run it in-process: the controller, until ctx ends.
// version is logged at start.
func Run(ctx context.Context, args []string, stderr io.Writer, version string) error {
	opts := runOptions{bridge: bridge.DefaultOptions()}
	fs := NewFlagSet("eso-bridge run", stderr)
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run takes no arguments, got %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return opts.run(ctx, func(name string) bool { return set[name] }, stderr, version)
}

// newRunCommand is `eso-bridge run`; its flags are those BindFlags binds.
func newRunCommand(version string) *cobra.Command {
	opts := runOptions{bridge: bridge.DefaultOptions()}
	goFlags := flag.NewFlagSet("run", flag.ContinueOnError)
	opts.BindFlags(goFlags)
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Run the controller (the default when no command is given)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd.Context(), cmd.Flags().Changed, cmd.ErrOrStderr(), version)
		},
	}
	cmd.Flags().AddGoFlagSet(goFlags)
	return cmd
}

// run runs the controller with the options; set says which flags were given.
func (o *runOptions) run(ctx context.Context, set func(name string) bool, stderr io.Writer, version string) error {
	opts := *o
	logger, err := newLogger(opts.logFormat, opts.logLevel, stderr)
	if err != nil {
		return err
	}
	ctrl.SetLogger(logger)
	// Before the first client: client-go reads its feature gates then.
	bridge.StreamInitialLists()
	cfg, err := loadRestConfig(clientConfig(opts.kubeconfig, &clientcmd.ConfigOverrides{CurrentContext: opts.context}))
	if err != nil {
		return err
	}
	if opts.kubeAPIQPS <= 0 || opts.kubeAPIBurst < 1 {
		return fmt.Errorf("--kube-api-qps must be > 0 and --kube-api-burst >= 1")
	}
	cfg.QPS, cfg.Burst = float32(opts.kubeAPIQPS), opts.kubeAPIBurst

	keySecret, err := digestKeySecret(opts.digestKeySecret, opts.kubeconfig)
	if err != nil {
		return err
	}
	mo := bridge.ManagerOptions{
		MetricsAddr: opts.metricsAddr, MetricsSecure: opts.metricsSecure, HealthAddr: opts.healthAddr, PprofAddr: opts.pprofAddr,
		LeaderElection: opts.leaderElect, LeaderElectionID: opts.leaderElectionID, LeaderElectionNamespace: opts.leaderElectionNamespace,
		DigestKeySecret: keySecret,
	}
	aws, err := opts.aws(set)
	if err != nil {
		return err
	}
	awsMode := "off"
	if aws != nil {
		awsMode = "sweep every " + aws.PollInterval.String()
		if len(aws.EventQueueURLs) > 0 {
			awsMode += ", events from " + strings.Join(aws.EventQueueURLs, " and ")
		}
	}
	logger.Info("starting", "version", version, "dryRun", opts.bridge.DryRun, "autoAll", opts.bridge.AutoAll, "namespaces", opts.bridge.Namespaces,
		"settle", opts.bridge.Settle, "maxGateWait", opts.bridge.MaxGateWait, "aws", awsMode)
	if aws != nil {
		// Stores are reached with the identity ESO uses: ServiceAccount
		// tokens and, when allowed, static keys come from the API server.
		kube, err := corev1client.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("creating the Kubernetes client of the AWS provider: %w", err)
		}
		aws.Identities = awsprovider.Identities{Kube: kube, ReadStaticKeys: opts.awsReadStoreKeys}
		aws.Log = ctrl.Log.WithName("aws")
		mo.Vault = awsprovider.New(*aws)
	}
	return bridge.Run(ctx, cfg, opts.bridge, mo)
}

// aws returns the AWS provider's options; nil when it is off. set says
// which flags were given.
func (o *runOptions) aws(set func(name string) bool) (*awsprovider.Options, error) {
	interval := o.awsPollInterval
	events := len(o.awsEventsQueueURLs) > 0
	if events && !set(flagAWSPollInterval) {
		interval = defaultAWSPollWithEvents
	}
	switch {
	case interval < 0:
		return nil, fmt.Errorf("--%s must be >= 0, got %s", flagAWSPollInterval, interval)
	case interval == 0 && events:
		return nil, fmt.Errorf("--%s needs the AWS provider, which --%s=0 turns off", flagAWSEventsQueueURL, flagAWSPollInterval)
	case interval == 0:
		return nil, nil
	}
	seen := map[string]bool{}
	for _, queue := range o.awsEventsQueueURLs {
		if u, err := url.Parse(queue); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("--%s must be a queue URL such as https://sqs.us-east-1.amazonaws.com/111122223333/eso-bridge-events, got %q", flagAWSEventsQueueURL, queue)
		}
		if seen[queue] {
			return nil, fmt.Errorf("--%s names %s twice", flagAWSEventsQueueURL, queue)
		}
		seen[queue] = true
	}
	return &awsprovider.Options{PollInterval: interval, EventQueueURLs: o.awsEventsQueueURLs}, nil
}

// newLogger writes every line: controller-runtime's production logger
// samples (after 100 lines of one message in a second, one in 100), which
// would drop most of the "restarted" and "adopted" lines of a large
// rotation or start — the record of what eso-bridge did — and keeps
// 460 KB of counters for it. The encoders and the Kubernetes-aware
// formatting of objects are controller-runtime's.
func newLogger(format, level string, w io.Writer) (logr.Logger, error) {
	var encoder zapcore.Encoder
	switch format {
	case "json":
		encoder = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	case "text":
		encoder = zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	default:
		return logr.Logger{}, fmt.Errorf("--log-format must be json or text, got %q", format)
	}
	var zapLevel zapcore.Level
	switch level {
	case "info":
		zapLevel = zapcore.InfoLevel
	case "debug":
		zapLevel = zapcore.DebugLevel
	default:
		return logr.Logger{}, fmt.Errorf("--log-level must be info or debug, got %q", level)
	}
	sink := zapcore.AddSync(w)
	core := zapcore.NewCore(&crzap.KubeAwareEncoder{Encoder: encoder}, sink, zapLevel)
	return zapr.NewLogger(zap.New(core, zap.ErrorOutput(sink), zap.AddStacktrace(zapcore.ErrorLevel))), nil
}
