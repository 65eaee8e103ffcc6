package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

// toolchainOptions are the flags of `eso-bridge-dev toolchain`.
type toolchainOptions struct {
	cacheDir string
}

// BindFlags registers the options on fs.
func (o *toolchainOptions) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.cacheDir, "cache-dir", "", "where binaries are built and kept (default $ESO_BRIDGE_CACHE or the user cache dir)")
}

func runToolchain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opts toolchainOptions
	fs := app.NewFlagSet("eso-bridge-dev toolchain", stderr)
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Nothing here logs through controller-runtime that a user needs; unset,
	// its logger prints a goroutine dump after 30 seconds.
	ctrl.SetLogger(logr.Discard())
	binaries, err := toolchain.Build(ctx, toolchain.Options{CacheDir: opts.cacheDir, Progress: stderr, Helm: true})
	if err != nil {
		return err
	}
	// The oldest ESO release the tests run against, built here too so that
	// no test package builds it within its timeout.
	oldest, err := toolchain.Build(ctx, toolchain.Options{CacheDir: opts.cacheDir, Progress: stderr, ExternalSecrets: toolchain.ExternalSecretsOldestV1})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"etcd " + toolchain.EtcdVersion, binaries.Etcd},
		{"kube-apiserver " + toolchain.KubernetesVersion, binaries.KubeAPIServer},
		{"kube-controller-manager " + toolchain.KubernetesVersion, binaries.KubeControllerManager},
		{"kube-scheduler " + toolchain.KubernetesVersion, binaries.KubeScheduler},
		{"kubectl " + toolchain.KubernetesVersion, binaries.Kubectl},
		{"kwok " + toolchain.KwokVersion, binaries.Kwok},
		{"external-secrets " + toolchain.ExternalSecretsVersion, binaries.ExternalSecrets},
		{"external-secrets CRDs", binaries.ExternalSecretsCRDs},
		{"external-secrets " + toolchain.ExternalSecretsOldestV1, oldest.ExternalSecrets},
		{"helm " + toolchain.HelmVersion, binaries.Helm},
	} {
		fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
	}
	return w.Flush()
}
