package toolchain

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// component is one wrapper module under modules/ and the binaries built from it.
type component struct {
	// name is the wrapper's file stem (modules/<name>.mod and .sum).
	name string
	// module and version name what is built; the version keys the cache.
	module  string
	version string
	// binaries maps each output file name to the package that builds it.
	binaries map[string]string
	// coldEstimate is what a cold build took on a 2-core machine, told to the user
	// so that a long build is not taken for a hang.
	coldEstimate time.Duration
	// copyAssets copies files the binaries need at run time (CRDs, stages) out of
	// the module's source into the cache entry.
	copyAssets func(moduleDir, assetDir string) error
	// versionFlags are -X assignments stamped into the binaries. Kubernetes
	// reads its own version from them; built without, kube-apiserver reports
	// v0.0.0-master, and Helm refuses a chart's kubeVersion against it.
	versionFlags []string
	// helm marks the Helm CLI, built only when Options.Helm asks for it: the
	// control plane does not need it.
	helm bool
	// esoRelease marks an ESO build; only the one Options.ExternalSecrets
	// asks for is built.
	esoRelease bool
	// patches mend known bugs of dependencies at build time (patch.go).
	patches []sourcePatch
}

// Versions pinned here must match the require lines of the wrapper modules.
const (
	// KubernetesVersion is the version of kube-apiserver, kube-controller-manager,
	// kube-scheduler and kubectl. It matches the k8s.io/* v0.34 libraries the
	// project builds against.
	KubernetesVersion = "v1.34.4"
	// EtcdVersion is the etcd server version.
	EtcdVersion = "v3.6.16"
	// KwokVersion is the version of kwok, which simulates nodes and pods.
	KwokVersion = "v0.8.0"
	// ExternalSecretsVersion is the ESO controller version; the project's API
	// types come from the same version.
	ExternalSecretsVersion = "v0.20.4"
	// ExternalSecretsOldestV1 is the oldest ESO release that serves
	// external-secrets.io/v1 (the API the controller reads), against which
	// the core rotation test also runs. v0.17.0 made v1 the served API;
	// v1.x splits its API into a module the Go module proxy does not serve.
	ExternalSecretsOldestV1 = "v0.17.0"
	// HelmVersion is the Helm CLI the chart tests render with. Helm is built as
	// a binary, like the control plane, so that its dependencies (newer
	// Kubernetes libraries among them) stay out of eso-bridge's own module.
	HelmVersion = "v3.22.0"
)

// components lists what the local control plane needs, in build order: quick
// builds first so a broken setup fails within a minute, not after kube-apiserver.
var components = []component{
	{
		name:         "etcd",
		module:       "go.etcd.io/etcd/server/v3",
		version:      EtcdVersion,
		binaries:     map[string]string{"etcd": "go.etcd.io/etcd/server/v3"},
		coldEstimate: 2 * time.Minute,
	},
	{
		name:         "kwok",
		module:       "sigs.k8s.io/kwok",
		version:      KwokVersion,
		binaries:     map[string]string{"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
		coldEstimate: 2 * time.Minute,
		copyAssets:   copyKwokStages,
		patches:      []sourcePatch{easycelCacheRace},
	},
	{
		name:    "kube",
		module:  "k8s.io/kubernetes",
		version: KubernetesVersion,
		binaries: map[string]string{
			"kube-apiserver":          "k8s.io/kubernetes/cmd/kube-apiserver",
			"kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
			"kube-scheduler":          "k8s.io/kubernetes/cmd/kube-scheduler",
			"kubectl":                 "k8s.io/kubernetes/cmd/kubectl",
		},
		coldEstimate: 12 * time.Minute,
		versionFlags: kubernetesVersionFlags(KubernetesVersion),
	},
	{
		name:         "eso",
		module:       "github.com/external-secrets/external-secrets",
		version:      ExternalSecretsVersion,
		binaries:     map[string]string{"external-secrets": "github.com/external-secrets/external-secrets"},
		coldEstimate: 5 * time.Minute,
		copyAssets:   copyESOCRDs,
		esoRelease:   true,
	},
	{
		name:         "eso-v0.17",
		module:       "github.com/external-secrets/external-secrets",
		version:      ExternalSecretsOldestV1,
		binaries:     map[string]string{"external-secrets": "github.com/external-secrets/external-secrets"},
		coldEstimate: 5 * time.Minute,
		copyAssets:   copyESOCRDs,
		esoRelease:   true,
	},
	{
		name:         "helm",
		module:       "helm.sh/helm/v3",
		version:      HelmVersion,
		binaries:     map[string]string{"helm": "helm.sh/helm/v3/cmd/helm"},
		coldEstimate: 3 * time.Minute,
		helm:         true,
	},
}

// kubernetesVersionFlags are the assignments Kubernetes' own build makes
// (hack/lib/version.sh) for both version packages, so that the API server's
// /version and kubectl report the release they were built from.
func kubernetesVersionFlags(version string) []string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+version,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean",
		)
	}
	return flags
}

// kwokStageDirs are the folders of kwok's own module whose Stage objects make
// nodes Ready and pods Running/Ready at once. Their kustomization.yaml files are
// not Stage objects and kwok refuses them, so only the stage files are copied.
var kwokStageDirs = []string{
	"kustomize/stage/node/fast",
	"kustomize/stage/node/heartbeat",
	"kustomize/stage/pod/fast",
}

func copyKwokStages(moduleDir, assetDir string) error {
	for _, dir := range kwokStageDirs {
		files, err := filepath.Glob(filepath.Join(moduleDir, dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, file := range files {
			if filepath.Base(file) == "kustomization.yaml" {
				continue
			}
			// Stage file names repeat across folders only by accident; prefix the
			// folder to keep them apart.
			name := filepath.Base(filepath.Dir(filepath.Dir(file))) + "-" + filepath.Base(filepath.Dir(file)) + "-" + filepath.Base(file)
			if err := copyFile(file, filepath.Join(assetDir, "kwok-stages", name)); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyESOCRDs(moduleDir, assetDir string) error {
	return copyFile(filepath.Join(moduleDir, "deploy", "crds", "bundle.yaml"), filepath.Join(assetDir, "external-secrets-crds.yaml"))
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}
