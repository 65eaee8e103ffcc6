package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/examples"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// demoNamespace holds the example application.
const demoNamespace = "demo"

// demoPollInterval is short so that the demo waits seconds; the default is 30s.
const demoPollInterval = time.Second

// demoOptions are the flags of `eso-bridge-dev demo`.
type demoOptions struct {
	keep     bool
	cacheDir string
	timeout  time.Duration
}

// BindFlags registers the options on fs.
func (o *demoOptions) BindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.keep, "keep", false, "leave the sandbox running after the demo, for kubectl, until Ctrl-C")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "where the control plane's binaries are built and kept (default $ESO_BRIDGE_CACHE or the user cache dir)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long the demo may take once the control plane is up")
}

// demo is one run of `eso-bridge-dev demo`.
type demo struct {
	out    io.Writer
	cp     *controlplane.ControlPlane
	c      client.Client
	loader rotation.Loader
	// log receives eso-bridge's log: its file in the control plane's log
	// folder once the bridge starts.
	log switchWriter
	// api and worker are the example workloads.
	api, worker client.Object
}

// Demo is `eso-bridge-dev demo`: it starts the local control plane with the real
// ESO and the in-process Secrets Manager, runs eso-bridge in-process, applies
// the examples, performs two rotations (a new value, then a rotation Lambda's
// AWSPENDING and promotion) and prints each one's timeline. It checks that
// each workload rolled exactly once per rotation that changed its sources.
func Demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opts demoOptions
	flags := app.NewFlagSet("eso-bridge-dev demo", stderr)
	opts.BindFlags(flags)
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("demo takes no arguments, got %q", flags.Args())
	}
	// controller-runtime's logger can be set once per process, and must be
	// before anything logs through it (unset, it prints a goroutine dump
	// after 30 seconds): it writes to the control plane's log folder once
	// there is one, and nowhere before.
	d := &demo{out: stdout}
	ctrl.SetLogger(crzap.New(crzap.WriteTo(&d.log), crzap.UseDevMode(true)))
	d.step("Starting a local control plane: etcd, kube-apiserver, controllers, a simulated node, the real ESO %s and an in-process AWS Secrets Manager.", "v0.20.4")
	d.say("The first run builds it from the Go module proxy (about 20 minutes on 2 cores, once); progress goes to stderr.")
	cp, err := controlplane.Start(ctx, controlplane.Options{CacheDir: opts.cacheDir, Progress: stderr, SecretsManager: controlplane.InProcess})
	if err != nil {
		return fmt.Errorf("starting the local control plane: %w", err)
	}
	defer cp.Stop()
	d.cp, d.c = cp, cp.Client
	d.loader = rotation.Loader{Client: cp.ControllerClient, Pods: cp.ControllerClient, Kinds: workload.Builtin()}

	runCtx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	if err := d.run(runCtx); err != nil {
		fmt.Fprint(stderr, cp.LogTails(15))
		return fmt.Errorf("demo failed: %w (component logs in %s)", err, cp.LogDir)
	}
	if !opts.keep {
		d.step("Done: nothing is left running.")
		return nil
	}
	d.step("The sandbox stays up (--keep). In another shell:")
	d.say("  export KUBECONFIG=%s PATH=%s:$PATH", cp.KubeconfigPath, filepath.Dir(cp.Binaries.Kubectl))
	d.say("  kubectl -n %s get externalsecrets,secrets,deployments,statefulsets,pods", demoNamespace)
	d.say("  go run ./cmd/eso-bridge trace --kubeconfig %s %s/db-credentials", cp.KubeconfigPath, demoNamespace)
	d.say("Press Ctrl-C to stop; everything started here stops with it.")
	<-ctx.Done()
	return nil
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n==> "+format+"\n", args...)
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "    "+format+"\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	if err := d.setUp(ctx); err != nil {
		return err
	}
	stop, err := d.startBridge(ctx)
	if err != nil {
		return err
	}
	defer stop()

	d.step("Rotation 1: a new value for demo/db-credentials, as `aws secretsmanager put-secret-value` makes it.")
	d.say("ExternalSecret db-credentials has eso-bridge.io/rollout: auto, so both of its consumers restart: deployment/api and statefulset/worker.")
	if _, err := d.cp.SecretsManager.PutValue(ctx, "demo/db-credentials", credentials()); err != nil {
		return err
	}
	if err := d.expectRollouts(ctx, map[client.Object]int{d.api: 1, d.worker: 1}); err != nil {
		return err
	}
	if err := d.printTimeline(ctx, "db-credentials"); err != nil {
		return err
	}

	d.step("Rotation 2: a rotation Lambda rotates demo/api-key.")
	d.say("createSecret puts the new version as AWSPENDING: not a rotation yet, so nothing restarts.")
	pending, err := d.cp.SecretsManager.PutPending(ctx, "demo/api-key", randomToken())
	if err != nil {
		return err
	}
	before := d.restartsOf(ctx)
	time.Sleep(4 * demoPollInterval)
	if after := d.restartsOf(ctx); after != before {
		return fmt.Errorf("an AWSPENDING version restarted workloads (%s, then %s)", before, after)
	}
	d.say("finishSecret moves AWSCURRENT to it; api-key's eso-bridge.io/rollout names deployment/api only.")
	if err := d.cp.SecretsManager.Promote(ctx, "demo/api-key", pending); err != nil {
		return err
	}
	if err := d.expectRollouts(ctx, map[client.Object]int{d.api: 1, d.worker: 0}); err != nil {
		return err
	}
	return d.printTimeline(ctx, "api-key")
}

// setUp creates the AWS secrets and applies the examples, with a SecretStore
// for the local endpoint in place of the IRSA one.
func (d *demo) setUp(ctx context.Context) error {
	d.step("Applying the example application from examples/ into namespace %s.", demoNamespace)
	if err := d.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", demoNamespace, err)
	}
	for name, value := range map[string]string{"demo/db-credentials": credentials(), "demo/api-key": randomToken()} {
		if _, err := d.cp.SecretsManager.CreateSecret(ctx, name, value); err != nil {
			return fmt.Errorf("creating AWS secret %s: %w", name, err)
		}
	}
	keys, store := controlplane.SecretStoreObjects(demoNamespace)
	for _, obj := range []client.Object{keys, store} {
		if err := d.c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
	}
	d.say("secretstore-irsa.yaml: replaced by a SecretStore %q for the local endpoint (IRSA needs EKS).", store.Name)
	files, err := fs.Glob(examples.Manifests, "*.yaml")
	if err != nil {
		return err
	}
	for _, file := range files {
		if file == "secretstore-irsa.yaml" {
			continue
		}
		manifest, err := examples.Manifests.ReadFile(file)
		if err != nil {
			return err
		}
		objects, err := controlplane.ApplyYAML(ctx, d.c, manifest, controlplane.ApplyOptions{Namespace: demoNamespace, FieldOwner: "eso-bridge-demo"})
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		var names []string
		for _, obj := range objects {
			names = append(names, strings.ToLower(obj.GetKind())+"/"+obj.GetName())
		}
		d.say("%s: %s", file, strings.Join(names, ", "))
	}
	for _, es := range []string{"db-credentials", "api-key"} {
		if _, err := controlplane.WaitForSync(ctx, d.c, types.NamespacedName{Namespace: demoNamespace, Name: es}); err != nil {
			return err
		}
	}
	d.api = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: "api"}}
	d.worker = &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: "worker"}}
	for _, w := range []client.Object{d.api, d.worker} {
		if err := controlplane.WaitForRollout(ctx, d.c, w); err != nil {
			return err
		}
	}
	d.say("ESO synced both ExternalSecrets; api and worker run with 2 Ready pods each.")
	return nil
}

// startBridge runs eso-bridge in-process, logging to a file, and waits until
// it has adopted the workloads and its AWS provider has looked twice.
func (d *demo) startBridge(ctx context.Context) (stop func(), err error) {
	logPath := filepath.Join(d.cp.LogDir, "eso-bridge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	d.log.set(logFile)
	d.step("Starting eso-bridge in-process (AWS poll interval %s; the demo's store reads static keys from a Secret, so it runs as with --aws-read-store-keys; its log: %s).", demoPollInterval, logPath)
	opts := bridge.DefaultOptions()
	opts.Namespaces = []string{demoNamespace}
	ids, err := d.cp.AWSIdentities(true)
	if err != nil {
		return nil, err
	}
	vault := awsprovider.New(awsprovider.Options{PollInterval: demoPollInterval, Identities: ids, Log: ctrl.Log.WithName("aws")})
	mo := bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: vault,
		DigestKeySecret: types.NamespacedName{Namespace: demoNamespace, Name: bridge.DefaultDigestKeySecret}}
	bridgeCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- bridge.Run(bridgeCtx, d.cp.Config, opts, mo) }()
	stop = func() {
		cancel()
		<-done
		d.log.set(nil)
		_ = logFile.Close()
	}
	err = d.waitFor(ctx, "eso-bridge to adopt api and worker", func() (bool, string) {
		for _, w := range []client.Object{d.api, d.worker} {
			if err := d.c.Get(ctx, client.ObjectKeyFromObject(w), w); err != nil {
				return false, err.Error()
			}
			if w.GetAnnotations()[annotations.AnnotationSourceHash] == "" {
				return false, w.GetName() + " not adopted yet"
			}
		}
		return true, ""
	})
	if err != nil {
		stop()
		return nil, err
	}
	// The provider adopts the versions it sees first; a rotation before its
	// first look would be taken for the starting point.
	time.Sleep(3 * demoPollInterval)
	d.say("eso-bridge adopted both workloads without restarting them, and knows the current AWS versions.")
	return stop, nil
}

// expectRollouts waits until each workload has rolled want more times to
// Ready pods, then watches a few seconds more for an unwanted second one.
func (d *demo) expectRollouts(ctx context.Context, want map[client.Object]int) error {
	before := map[client.Object]int{}
	for w := range want {
		n, err := controlplane.Revisions(ctx, d.c, w)
		if err != nil {
			return err
		}
		before[w] = n
	}
	for w, n := range want {
		if n == 0 {
			continue
		}
		err := d.waitFor(ctx, w.GetName()+" to roll out", func() (bool, string) {
			got, err := controlplane.Revisions(ctx, d.c, w)
			if err != nil {
				return false, err.Error()
			}
			return got-before[w] >= n, fmt.Sprintf("%d rollout(s)", got-before[w])
		})
		if err != nil {
			return err
		}
		if err := controlplane.WaitForRollout(ctx, d.c, w); err != nil {
			return err
		}
	}
	time.Sleep(3 * time.Second)
	for w, n := range want {
		got, err := controlplane.Revisions(ctx, d.c, w)
		if err != nil {
			return err
		}
		kind := strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", w), "*v1."))
		if got-before[w] != n {
			return fmt.Errorf("%s/%s rolled %d time(s), want %d", kind, w.GetName(), got-before[w], n)
		}
		d.say("%s/%s: %d rollout(s), as expected.", kind, w.GetName(), n)
	}
	return nil
}

// restartsOf describes the workloads' rollout counts, to compare.
func (d *demo) restartsOf(ctx context.Context) string {
	var parts []string
	for _, w := range []client.Object{d.api, d.worker} {
		n, err := controlplane.Revisions(ctx, d.c, w)
		if err != nil {
			return err.Error()
		}
		parts = append(parts, fmt.Sprintf("%s %d", w.GetName(), n))
	}
	return strings.Join(parts, ", ")
}

// printTimeline waits until the rotation of es has finished and prints it as
// `eso-bridge trace` does.
func (d *demo) printTimeline(ctx context.Context, es string) error {
	key := types.NamespacedName{Namespace: demoNamespace, Name: es}
	var r *rotation.Rotation
	err := d.waitFor(ctx, "the rotation of "+es+" to finish", func() (bool, string) {
		var err error
		r, err = d.loader.ForExternalSecret(ctx, key)
		if err != nil {
			return false, err.Error()
		}
		return r.Finished() && len(r.Waiting) == 0, strings.Join(r.Waiting, "; ")
	})
	if err != nil {
		return err
	}
	d.say("`eso-bridge trace %s/%s`:", demoNamespace, es)
	fmt.Fprintln(d.out)
	return app.PrintRotation(d.out, r)
}

func (d *demo) waitFor(ctx context.Context, what string, condition func() (bool, string)) error {
	last := ""
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		var ok bool
		ok, last = condition()
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w (last: %s)", what, err, last)
	}
	return nil
}

func credentials() string {
	return fmt.Sprintf(`{"username":"app","password":%q}`, randomToken())
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// switchWriter writes to the writer last set, or nowhere.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
}

// Write implements io.Writer.
func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}
