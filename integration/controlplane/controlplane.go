// Package controlplane runs a local Kubernetes control plane of real
// components — etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kwok for simulated nodes, the External Secrets Operator — and an AWS Secrets
// Manager endpoint, all on loopback. Tests, the demo, the sandbox and the
// benchmarks all start it through Start.
package controlplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/integration/localsm"
	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

// Options tunes Start.
type Options struct {
	// Dir holds the control plane's data, credentials and logs; a new temporary
	// folder, removed by Stop, when empty.
	Dir string
	// Nodes is the number of simulated nodes; 1 when zero.
	Nodes int
	// Progress receives what is being built and started; io.Discard when nil.
	Progress io.Writer
	// CacheDir is where the toolchain is built; toolchain.DefaultCacheDir when empty.
	CacheDir string
	// Python runs moto; "python3" when empty.
	Python string
	// SecretsManager chooses the AWS Secrets Manager endpoint: Moto (the
	// default) or InProcess (integration/localsm, with fault injection).
	SecretsManager Endpoint
	// ExternalSecrets is the ESO release to run: toolchain.ExternalSecretsVersion
	// when empty (see toolchain.Options).
	ExternalSecrets string
	// Audit has the API server log the writes a benchmark times (workload
	// patches and updates, ExternalSecret status writes), at Metadata level,
	// for ControlPlane.AuditEvents: when each reached the API server and
	// when it was answered, by the API server's clock.
	Audit bool
}

// Endpoint is an implementation of AWS Secrets Manager the control plane runs.
type Endpoint int

// The endpoints the control plane can run.
const (
	// Moto runs moto's server, an independent emulator, as a process.
	Moto Endpoint = iota
	// InProcess runs integration/localsm inside this process; it needs no
	// Python and can inject faults (ControlPlane.LocalSecretsManager).
	InProcess
)

// ControlPlane is a running local control plane.
type ControlPlane struct {
	// Config is the admin's client configuration.
	Config *rest.Config
	// Client talks to the API server with ESO's types registered (see Scheme).
	Client client.Client
	// ControllerClient reads as the controller does: with its scheme, in
	// which a Deployment is a workload.DeploymentRecord. Code of
	// the controller's packages that a test or the demo calls (a
	// rotation.Loader, the workload kinds) must be given this one.
	ControllerClient client.Client
	// KubeconfigPath is a kubeconfig file for the admin, for kubectl and for
	// processes started beside the control plane.
	KubeconfigPath string
	// SecretsManagerURL is the AWS Secrets Manager endpoint ESO is pointed at.
	SecretsManagerURL string
	// SecretsManager puts, rotates and deletes secrets there.
	SecretsManager *SecretsManager
	// LocalSecretsManager is the in-process endpoint, for fault injection;
	// nil with moto.
	LocalSecretsManager *localsm.Server
	// Dir is the folder holding data, credentials and logs.
	Dir string
	// LogDir holds one log file per component.
	LogDir string
	// Binaries are the toolchain the components run from.
	Binaries toolchain.Binaries
	// AuditLogPath is the API server's audit log; empty without
	// Options.Audit.
	AuditLogPath string

	removeDir bool
	mu        sync.Mutex
	processes []*process
	stopOnce  sync.Once
}

// Start builds what is missing from the toolchain, then starts every component
// and returns once each is ready: the API server answers, ESO's CRDs are
// served, the nodes are Ready, ESO is healthy and the AWS endpoint answers.
// On error nothing is left running.
//
// Ports are chosen free just before each component binds them; another
// process (a parallel test package) can take one in between. Such a start is
// retried from scratch, twice at most.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	for attempt := 1; ; attempt++ {
		cp, err := start(ctx, opts)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return cp, err
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "controlplane: a port was taken by another process; starting again (attempt %d)\n", attempt+1)
		}
	}
}

func start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	if opts.Python == "" {
		opts.Python = "python3"
	}
	// Missing prerequisites are reported before a long build, not after it.
	if opts.SecretsManager == Moto {
		if err := checkMoto(ctx, opts.Python); err != nil {
			return nil, err
		}
	}
	binaries, err := toolchain.Build(ctx, toolchain.Options{CacheDir: opts.CacheDir, Progress: opts.Progress, ExternalSecrets: opts.ExternalSecrets})
	if err != nil {
		return nil, err
	}

	cp := &ControlPlane{Binaries: binaries, Dir: opts.Dir}
	if cp.Dir == "" {
		if cp.Dir, err = os.MkdirTemp("", "eso-bridge-controlplane-"); err != nil {
			return nil, err
		}
		cp.removeDir = true
	}
	cp.LogDir = filepath.Join(cp.Dir, "logs")
	cp.KubeconfigPath = filepath.Join(cp.Dir, "kubeconfig")
	if err := os.MkdirAll(cp.LogDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()

	started := time.Now()
	step := func(what string) {
		fmt.Fprintf(opts.Progress, "controlplane: %s (%s)\n", what, time.Since(started).Round(time.Millisecond))
	}

	if opts.SecretsManager == InProcess {
		if err := cp.startLocalSecretsManager(); err != nil {
			return nil, err
		}
		step("AWS Secrets Manager endpoint (in-process) at " + cp.SecretsManagerURL)
	} else {
		if err := cp.startSecretsManager(ctx, opts.Python); err != nil {
			return nil, err
		}
		step("AWS Secrets Manager endpoint (moto) at " + cp.SecretsManagerURL)
	}
	etcdURL, err := cp.startEtcd(ctx)
	if err != nil {
		return nil, err
	}
	step("etcd at " + etcdURL)
	creds, err := newCredentials(cp.Dir)
	if err != nil {
		return nil, err
	}
	var audit []string
	if opts.Audit {
		if audit, err = cp.auditFlags(); err != nil {
			return nil, err
		}
	}
	if err := cp.startAPIServer(ctx, etcdURL, creds, audit...); err != nil {
		return nil, err
	}
	if err := creds.writeKubeconfig(cp.KubeconfigPath, cp.Config.Host, "eso-bridge-local"); err != nil {
		return nil, err
	}
	if cp.Client, err = client.New(cp.Config, client.Options{Scheme: Scheme}); err != nil {
		return nil, err
	}
	if cp.ControllerClient, err = client.New(cp.Config, client.Options{Scheme: bridge.Scheme}); err != nil {
		return nil, err
	}
	step("kube-apiserver at " + cp.Config.Host)
	if err := cp.startControllers(); err != nil {
		return nil, err
	}
	if err := cp.startKwok(); err != nil {
		return nil, err
	}
	if err := cp.addNodes(ctx, opts.Nodes); err != nil {
		return nil, err
	}
	step(fmt.Sprintf("kube-controller-manager, kube-scheduler and kwok with %d Ready node(s)", opts.Nodes))
	if err := cp.installESOCRDs(); err != nil {
		return nil, err
	}
	if err := cp.startESO(ctx); err != nil {
		return nil, err
	}
	step("External Secrets Operator " + cmp.Or(opts.ExternalSecrets, toolchain.ExternalSecretsVersion))
	return cp, nil
}

// start runs one component, which serves on the loopback host:port addresses
// given, and remembers it for Stop, Components and the log tails.
func (cp *ControlPlane) start(name, path string, args, env []string, addresses ...string) (*process, error) {
	p, err := startProcess(name, path, args, append(env, DirEnv+"="+cp.Dir), cp.LogDir)
	if err != nil {
		return nil, err
	}
	p.addresses = addresses
	cp.mu.Lock()
	cp.processes = append(cp.processes, p)
	cp.mu.Unlock()
	return p, nil
}

func (cp *ControlPlane) process(name string) *process {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range cp.processes {
		if p.name == name {
			return p
		}
	}
	return nil
}

// DirEnv is set in every component's environment to the control plane's
// folder, so that its processes can be found from outside (ps e, /proc).
const DirEnv = "ESO_BRIDGE_CONTROLPLANE_DIR"

// stopGrace is how long a component may take to shut down before it is killed.
const stopGrace = 5 * time.Second

// Stop stops every component, newest first so that none outlives what it
// depends on, and removes the temporary folder it created. It is safe to call
// more than once and from a signal handler.
func (cp *ControlPlane) Stop() {
	cp.stopOnce.Do(func() {
		cp.mu.Lock()
		processes := append([]*process(nil), cp.processes...)
		cp.mu.Unlock()
		for i := len(processes) - 1; i >= 0; i-- {
			processes[i].stop(stopGrace)
		}
		if cp.LocalSecretsManager != nil {
			_ = cp.LocalSecretsManager.Close()
		}
		if cp.removeDir {
			_ = os.RemoveAll(cp.Dir)
		}
	})
}

// Healthy reports an error naming every component that has exited.
func (cp *ControlPlane) Healthy() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var errs []error
	for _, p := range cp.processes {
		if !p.running() {
			errs = append(errs, fmt.Errorf("%s %w: %v", p.name, errExited, p.waitErr))
		}
	}
	return errors.Join(errs...)
}

// Component is one running process of the control plane.
type Component struct {
	Name string
	PID  int
	// Addresses are the loopback host:port pairs it serves on.
	Addresses []string
}

// Components lists the processes started so far, oldest first.
func (cp *ControlPlane) Components() []Component {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	components := make([]Component, 0, len(cp.processes))
	for _, p := range cp.processes {
		components = append(components, Component{Name: p.name, PID: p.cmd.Process.Pid, Addresses: p.addresses})
	}
	return components
}

// LogTails returns the last lines of every component's log, for a failing
// test to print.
func (cp *ControlPlane) LogTails(lines int) string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var b strings.Builder
	for _, p := range cp.processes {
		fmt.Fprintf(&b, "--- last %d lines of %s ---\n%s\n", lines, p.logPath, p.logTail(lines))
	}
	return b.String()
}
