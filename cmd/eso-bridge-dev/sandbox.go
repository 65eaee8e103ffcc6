package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

// sandboxOptions are the flags of `eso-bridge-dev sandbox`.
type sandboxOptions struct {
	cacheDir string
	nodes    int
	endpoint string
}

// BindFlags registers the options on fs.
func (o *sandboxOptions) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.cacheDir, "cache-dir", "", "where the control plane's binaries are built and kept (default $ESO_BRIDGE_CACHE or the user cache dir)")
	fs.IntVar(&o.nodes, "nodes", 1, "number of simulated (kwok) nodes")
	fs.StringVar(&o.endpoint, "aws-endpoint", "moto", "AWS Secrets Manager endpoint: moto, or in-process (no Python needed)")
}

// sandboxNamespace holds the sandbox's own objects: the keys of its
// ClusterSecretStore.
const sandboxNamespace = "eso-bridge-sandbox"

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opts sandboxOptions
	fs := app.NewFlagSet("eso-bridge-dev sandbox", stderr)
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Nothing here logs through controller-runtime that a user needs; unset,
	// its logger prints a goroutine dump after 30 seconds.
	ctrl.SetLogger(logr.Discard())
	if opts.nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", opts.nodes)
	}
	endpoints := map[string]controlplane.Endpoint{"moto": controlplane.Moto, "in-process": controlplane.InProcess}
	endpoint, ok := endpoints[opts.endpoint]
	if !ok {
		return fmt.Errorf("--aws-endpoint must be moto or in-process, got %q", opts.endpoint)
	}
	fmt.Fprintln(stderr, "eso-bridge-dev sandbox: starting a local control plane (the first run builds it, which takes a while)")
	cp, err := controlplane.Start(ctx, controlplane.Options{CacheDir: opts.cacheDir, Nodes: opts.nodes, Progress: stderr, SecretsManager: endpoint})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer cp.Stop()
	if err := createClusterSecretStore(ctx, cp.Client); err != nil {
		return err
	}
	printSandboxUsage(stdout, cp)

	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr, "\neso-bridge-dev sandbox: stopping")
			return nil
		case <-ticker.C:
			if err := cp.Healthy(); err != nil {
				fmt.Fprint(stderr, cp.LogTails(20))
				return fmt.Errorf("the sandbox lost a component: %w", err)
			}
		}
	}
}

// createClusterSecretStore makes a store for the local AWS endpoint that every
// namespace can use, so examples need no SecretStore of their own.
func createClusterSecretStore(ctx context.Context, c client.Client) error {
	keys, store := controlplane.ClusterSecretStoreObjects(sandboxNamespace)
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sandboxNamespace}}, keys, store} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

func printSandboxUsage(w io.Writer, cp *controlplane.ControlPlane) {
	kubectlDir := filepath.Dir(cp.Binaries.Kubectl)
	fmt.Fprintf(w, `
The sandbox is up. In another shell:

  export KUBECONFIG=%s
  export PATH=%s:$PATH      # kubectl %s, built with the sandbox
  kubectl get crds | grep external-secrets
  kubectl get nodes

AWS Secrets Manager endpoint (any credentials, region %s):

  export AWS_ENDPOINT_URL_SECRETS_MANAGER=%s AWS_REGION=%s
  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s
  aws secretsmanager create-secret --name demo/db --secret-string s3cret

ClusterSecretStore %q reads from that endpoint; point an ExternalSecret at it
with secretStoreRef: {kind: ClusterSecretStore, name: %s}.

Component logs: %s
Press Ctrl-C to stop; everything started here stops with it.
`, cp.KubeconfigPath, kubectlDir, toolchain.KubernetesVersion, controlplane.AWSRegion, cp.SecretsManagerURL, controlplane.AWSRegion,
		controlplane.AWSAccessKeyID, controlplane.AWSSecretAccessKey, controlplane.SecretStoreName, controlplane.SecretStoreName, cp.LogDir)
}
