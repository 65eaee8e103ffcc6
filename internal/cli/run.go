package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/eso-bridge/eso-bridge/bridge"
)

// runOptions are the flags of `eso-bridge run`.
type runOptions struct {
	bridge                  bridge.Options
	kubeconfig              string
	metricsAddr             string
	healthAddr              string
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	logFormat               string
	logLevel                string
	awsPollInterval         time.Duration
}

// BindFlags registers the options on fs.
func (o *runOptions) BindFlags(fs *flag.FlagSet) {
	o.bridge.BindFlags(fs)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 turns it off")
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 turns it off")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect one active replica through a Lease; the others take over if it stops")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "eso-bridge", "name of the Lease; give each installation its own")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the pod's own)")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: info or debug")
	fs.DurationVar(&o.awsPollInterval, "aws-poll-interval", 30*time.Second, "how often AWS Secrets Manager is swept for moved versions of the secrets ExternalSecrets read; 0 turns the AWS provider off")
}

// Run is `eso-bridge run`: the controller, until ctx ends. version is logged
// at start.
func Run(ctx context.Context, args []string, stderr io.Writer, version string) error {
	opts := runOptions{bridge: bridge.DefaultOptions()}
	fs := flag.NewFlagSet("eso-bridge run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run takes no arguments, got %q", fs.Args())
	}
	logger, err := newLogger(opts.logFormat, opts.logLevel, stderr)
	if err != nil {
		return err
	}
	ctrl.SetLogger(logger)
	cfg, err := RestConfig(opts.kubeconfig)
	if err != nil {
		return err
	}
	logger.Info("starting", "version", version, "autoAll", opts.bridge.AutoAll, "namespaces", opts.bridge.Namespaces,
		"settle", opts.bridge.Settle, "maxGateWait", opts.bridge.MaxGateWait)
	mo := bridge.ManagerOptions{
		MetricsAddr: opts.metricsAddr, HealthAddr: opts.healthAddr,
		LeaderElection: opts.leaderElect, LeaderElectionID: opts.leaderElectionID, LeaderElectionNamespace: opts.leaderElectionNamespace,
	}
	if opts.awsPollInterval < 0 {
		return fmt.Errorf("--aws-poll-interval must be >= 0, got %s", opts.awsPollInterval)
	}
	if opts.awsPollInterval > 0 {
		mo.AWS = &bridge.AWSOptions{PollInterval: opts.awsPollInterval}
	}
	return bridge.Run(ctx, cfg, opts.bridge, mo)
}

func newLogger(format, level string, w io.Writer) (logr.Logger, error) {
	var encoder crzap.Opts
	switch format {
	case "json":
		encoder = crzap.JSONEncoder()
	case "text":
		encoder = crzap.ConsoleEncoder()
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
	return crzap.New(encoder, crzap.Level(zapLevel), crzap.WriteTo(w)), nil
}
