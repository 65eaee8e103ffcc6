package bridge

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/bridge/window"
)

// Options are the controller's behaviour and scope, bound to flags.
type Options struct {
	// AutoAll restarts every workload that uses an ESO-managed Secret, without
	// any annotation.
	AutoAll bool
	// Namespaces limits the controller to these namespaces (and its caches to
	// them); empty means all.
	Namespaces []string
	// ExcludeNamespaces are never touched.
	ExcludeNamespaces []string
	// NamespaceSelector selects namespaces by label; empty selects all.
	NamespaceSelector string
	// Settle is how long all of a workload's sources must be quiet before the
	// restart, so that sources rotating together cause one restart.
	Settle time.Duration
	// MaxGateWait bounds how long a changed workload waits for its sources
	// before eso-bridge gives up with a Warning.
	MaxGateWait time.Duration
	// RolloutsPerSecond and RolloutBurst limit restarts across the cluster;
	// NamespaceRolloutsPerSecond and NamespaceRolloutBurst per namespace. A
	// restart over the limit is queued, never dropped.
	RolloutsPerSecond          float64
	RolloutBurst               int
	NamespaceRolloutsPerSecond float64
	NamespaceRolloutBurst      int
	// Workers is the number of workloads of one kind reconciled at once.
	Workers int
	// DryRun decides, logs, counts and sends Events as usual ("would
	// restart", "would trigger") and writes nothing to workloads or
	// ExternalSecrets: to compare eso-bridge with a tool already running.
	DryRun bool
	// RolloutDeadline is how long a StatefulSet, DaemonSet or Argo Rollout
	// may take to roll after a restart before it is reported stalled. A
	// Deployment uses its own progressDeadlineSeconds.
	RolloutDeadline time.Duration
	// Waves is the wave mode of ExternalSecrets without the
	// eso-bridge.io/waves annotation: "off", "ordered" or "canary".
	Waves string
	// RestartWindow is when a workload may restart if neither it nor the
	// ExternalSecrets it restarts for have the eso-bridge.io/restart-window
	// annotation, e.g. "Mon-Fri 09:00-17:00 Europe/Paris"; "" is always.
	RestartWindow string
	// MaxRolloutsInProgress and NamespaceMaxRolloutsInProgress cap the
	// rollouts eso-bridge started that have not completed, across the
	// cluster and in one namespace; 0 is no cap. A restart over a cap
	// waits for a rollout to end.
	MaxRolloutsInProgress          int
	NamespaceMaxRolloutsInProgress int
}

// DefaultOptions are the defaults of the flags.
func DefaultOptions() Options {
	return Options{
		Settle:                     2 * time.Second,
		MaxGateWait:                10 * time.Minute,
		RolloutsPerSecond:          10,
		RolloutBurst:               50,
		NamespaceRolloutsPerSecond: 5,
		NamespaceRolloutBurst:      20,
		Workers:                    4,
		RolloutDeadline:            10 * time.Minute,
		Waves:                      string(annotations.WavesOff),
	}
}

// BindFlags registers the options on fs, with their current values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.AutoAll, "auto-all", o.AutoAll, "restart every workload that uses an ESO-managed Secret, without annotations")
	fs.Func("namespaces", "comma-separated namespaces to watch (default all)", listFlag(&o.Namespaces))
	fs.Func("exclude-namespaces", "comma-separated namespaces never to touch", listFlag(&o.ExcludeNamespaces))
	fs.StringVar(&o.NamespaceSelector, "namespace-selector", o.NamespaceSelector, "label selector a namespace must match, e.g. team=payments")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "how long a workload's sources must be quiet before its restart")
	fs.DurationVar(&o.MaxGateWait, "max-gate-wait", o.MaxGateWait, "how long a changed workload may wait for ESO before eso-bridge gives up with a Warning")
	fs.Float64Var(&o.RolloutsPerSecond, "rollouts-per-second", o.RolloutsPerSecond, "restarts per second across the cluster (queued beyond)")
	fs.IntVar(&o.RolloutBurst, "rollout-burst", o.RolloutBurst, "restarts allowed at once across the cluster")
	fs.Float64Var(&o.NamespaceRolloutsPerSecond, "namespace-rollouts-per-second", o.NamespaceRolloutsPerSecond, "restarts per second in one namespace (queued beyond)")
	fs.IntVar(&o.NamespaceRolloutBurst, "namespace-rollout-burst", o.NamespaceRolloutBurst, "restarts allowed at once in one namespace")
	fs.BoolVar(&o.DryRun, "dry-run", o.DryRun, "decide, log, count and send Events as usual (WouldRestart), but patch no workload and trigger no ExternalSecret: ESO refreshes at its own interval")
	fs.IntVar(&o.Workers, "workers", o.Workers, "workloads of one kind reconciled at once")
	fs.StringVar(&o.Waves, "waves", o.Waves, "how a rotation restarts the workloads of an ExternalSecret without the eso-bridge.io/waves annotation: off (all at once), ordered (by each workload's eso-bridge.io/wave, each wave after the one before rolled out) or canary (one first, then the rest)")
	fs.StringVar(&o.RestartWindow, "restart-window", o.RestartWindow, `when a workload may restart if neither it nor its rotated ExternalSecrets have the eso-bridge.io/restart-window annotation, e.g. "Mon-Fri 09:00-17:00 Europe/Paris" (default always)`)
	fs.IntVar(&o.MaxRolloutsInProgress, "max-rollouts-in-progress", o.MaxRolloutsInProgress, "rollouts eso-bridge started and not yet completed, across the cluster, beyond which a restart waits for one to end (0: no cap)")
	fs.IntVar(&o.NamespaceMaxRolloutsInProgress, "namespace-max-rollouts-in-progress", o.NamespaceMaxRolloutsInProgress, "the same in one namespace (0: no cap)")
	fs.DurationVar(&o.RolloutDeadline, "rollout-deadline", o.RolloutDeadline, "how long a StatefulSet, DaemonSet or Argo Rollout may take to roll before a RolloutStalled Warning (Deployments use their progressDeadlineSeconds)")
}

// Validate reports every option that makes no sense.
func (o *Options) Validate() error {
	var errs []error
	if _, err := labels.Parse(o.NamespaceSelector); err != nil {
		errs = append(errs, fmt.Errorf("--namespace-selector: %w", err))
	}
	for _, ns := range o.Namespaces {
		for _, ex := range o.ExcludeNamespaces {
			if ns == ex {
				errs = append(errs, fmt.Errorf("namespace %q is both in --namespaces and --exclude-namespaces", ns))
			}
		}
	}
	if o.Settle < 0 || o.MaxGateWait <= 0 {
		errs = append(errs, errors.New("--settle must be >= 0 and --max-gate-wait > 0"))
	}
	if o.RolloutsPerSecond <= 0 || o.NamespaceRolloutsPerSecond <= 0 || o.RolloutBurst < 1 || o.NamespaceRolloutBurst < 1 {
		errs = append(errs, errors.New("rollout rates must be > 0 and bursts >= 1"))
	}
	if o.RolloutDeadline <= 0 {
		errs = append(errs, errors.New("--rollout-deadline must be > 0"))
	}
	if _, err := annotations.ParseWaveMode(o.Waves); err != nil {
		errs = append(errs, fmt.Errorf("--waves: %w", err))
	}
	if _, err := window.Parse(o.RestartWindow); err != nil {
		errs = append(errs, fmt.Errorf("--restart-window: %w", err))
	}
	if o.MaxRolloutsInProgress < 0 || o.NamespaceMaxRolloutsInProgress < 0 {
		errs = append(errs, errors.New("--max-rollouts-in-progress and --namespace-max-rollouts-in-progress must be >= 0 (0: no cap)"))
	}
	if o.Workers < 1 {
		errs = append(errs, errors.New("--workers must be >= 1"))
	}
	return errors.Join(errs...)
}

// restart is what the restart controller takes of the options.
func (o *Options) restart() restart.Options {
	waves, _ := annotations.ParseWaveMode(o.Waves)    // validated
	restartWindow, _ := window.Parse(o.RestartWindow) // validated
	return restart.Options{AutoAll: o.AutoAll, Settle: o.Settle, MaxGateWait: o.MaxGateWait, Workers: o.Workers, DryRun: o.DryRun, Waves: waves,
		RestartWindow: restartWindow}
}

func listFlag(target *[]string) func(string) error {
	return func(value string) error {
		*target = nil
		for _, item := range strings.Split(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*target = append(*target, item)
			}
		}
		return nil
	}
}
