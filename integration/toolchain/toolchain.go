// Package toolchain builds the binaries of the local control plane — etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok and the
// External Secrets Operator — and the Helm CLI the chart tests use, from the Go
// module proxy, at pinned versions.
//
// The wrapper modules that pin them are embedded (modules/*.mod and *.sum), so
// an installed eso-bridge binary can build its sandbox without a source tree.
// Binaries go to a per-user cache keyed by component, version and wrapper
// content, and are reused by every later run.
package toolchain

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed modules
var wrapperModules embed.FS

// Binaries holds the paths of everything the local control plane runs.
type Binaries struct {
	Etcd                  string
	KubeAPIServer         string
	KubeControllerManager string
	KubeScheduler         string
	Kubectl               string
	Kwok                  string
	ExternalSecrets       string
	// ExternalSecretsVersion is the release of ExternalSecrets.
	ExternalSecretsVersion string
	// ExternalSecretsCRDs is ESO's CRD bundle from the same version as its binary.
	ExternalSecretsCRDs string
	// KwokStages are the Stage files kwok needs to make nodes and pods Ready.
	KwokStages []string
	// Helm renders the chart in tests; "" unless Options.Helm asked for it.
	Helm string
}

// Options tunes Build.
type Options struct {
	// CacheDir is where built binaries are kept; DefaultCacheDir when empty.
	CacheDir string
	// Progress receives what is being built and for how long; io.Discard when nil.
	Progress io.Writer
	// ProgressInterval is how often a running build reports; 30s when zero.
	ProgressInterval time.Duration
	// Helm builds the Helm CLI too (Binaries.Helm), for the chart tests.
	Helm bool
	// ExternalSecrets is the ESO release to build: ExternalSecretsVersion
	// when empty, or ExternalSecretsOldestV1.
	ExternalSecrets string
}

// minFreeBytes is what a cold build needs: about 0.9 GB of binaries plus the
// Go build cache. Checked up front so a full disk fails clearly, not half-built.
const minFreeBytes = 6 << 30

// DefaultCacheDir is $ESO_BRIDGE_CACHE, or eso-bridge/ under the user cache dir.
func DefaultCacheDir() (string, error) {
	if dir := os.Getenv("ESO_BRIDGE_CACHE"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir (set ESO_BRIDGE_CACHE to choose one): %w", err)
	}
	return filepath.Join(base, "eso-bridge"), nil
}

// Build returns the control plane's binaries, building those not yet cached.
// Concurrent callers (test packages run in parallel) share one build through a
// file lock instead of building twice.
func Build(ctx context.Context, opts Options) (Binaries, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.ProgressInterval == 0 {
		opts.ProgressInterval = 30 * time.Second
	}
	if opts.CacheDir == "" {
		dir, err := DefaultCacheDir()
		if err != nil {
			return Binaries{}, err
		}
		opts.CacheDir = dir
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("creating cache dir: %w", err)
	}
	unlock, err := lockCache(ctx, opts)
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()

	if opts.ExternalSecrets == "" {
		opts.ExternalSecrets = ExternalSecretsVersion
	}
	dirs := map[string]string{}
	for _, c := range components {
		if c.helm && !opts.Helm {
			continue
		}
		if c.esoRelease && c.version != opts.ExternalSecrets {
			continue
		}
		dir, err := ensure(ctx, c, opts)
		if err != nil {
			return Binaries{}, fmt.Errorf("building %s %s: %w", c.name, c.version, err)
		}
		dirs[c.name] = dir
		if c.esoRelease {
			dirs["eso"] = dir
		}
	}
	if dirs["eso"] == "" {
		return Binaries{}, fmt.Errorf("no ESO release %s in the toolchain (it builds %s and %s)", opts.ExternalSecrets, ExternalSecretsVersion, ExternalSecretsOldestV1)
	}
	stages, err := filepath.Glob(filepath.Join(dirs["kwok"], "kwok-stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		return Binaries{}, fmt.Errorf("no kwok stages in %s (remove that folder to rebuild it)", dirs["kwok"])
	}
	sort.Strings(stages)
	return Binaries{
		Etcd:                   filepath.Join(dirs["etcd"], "etcd"),
		KubeAPIServer:          filepath.Join(dirs["kube"], "kube-apiserver"),
		KubeControllerManager:  filepath.Join(dirs["kube"], "kube-controller-manager"),
		KubeScheduler:          filepath.Join(dirs["kube"], "kube-scheduler"),
		Kubectl:                filepath.Join(dirs["kube"], "kubectl"),
		Kwok:                   filepath.Join(dirs["kwok"], "kwok"),
		ExternalSecrets:        filepath.Join(dirs["eso"], "external-secrets"),
		ExternalSecretsCRDs:    filepath.Join(dirs["eso"], "external-secrets-crds.yaml"),
		ExternalSecretsVersion: opts.ExternalSecrets,
		KwokStages:             stages,
		Helm:                   helmPath(dirs),
	}, nil
}

// helmPath is the Helm CLI's path, or "" when it was not asked for.
func helmPath(dirs map[string]string) string {
	if dirs["helm"] == "" {
		return ""
	}
	return filepath.Join(dirs["helm"], "helm")
}

// completeMarker is written last into a cache entry; an entry without it is a
// build that was interrupted and is redone.
const completeMarker = ".complete"

// ensure returns the cache entry of one component, building it when missing.
func ensure(ctx context.Context, c component, opts Options) (string, error) {
	goMod, err := wrapperModules.ReadFile("modules/" + c.name + ".mod")
	if err != nil {
		return "", err
	}
	goSum, err := wrapperModules.ReadFile("modules/" + c.name + ".sum")
	if err != nil {
		return "", err
	}
	// The wrapper's content is part of the key so that a changed pin or replace
	// rebuilds even when someone forgets to bump the version constant.
	// So are the version stamps, which change the binaries without the wrapper
	// (only where there are some, so that other entries keep their keys).
	key := append(append([]byte{}, goMod...), goSum...)
	ldflags := strings.Join(append([]string{"-s", "-w"}, c.versionFlags...), " ")
	if len(c.versionFlags) > 0 {
		key = append(key, ldflags...)
	}
	for _, p := range c.patches {
		key = append(key, p.key()...)
	}
	digest := sha256.Sum256(key)
	entry := filepath.Join(opts.CacheDir, "bin", fmt.Sprintf("%s-%s-%s", c.name, c.version, hex.EncodeToString(digest[:])[:12]))
	if _, err := os.Stat(filepath.Join(entry, completeMarker)); err == nil {
		return entry, nil
	}
	if err := checkFreeSpace(opts.CacheDir); err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("the local control plane is built with the Go toolchain, and `go` is not on PATH")
	}

	src := filepath.Join(opts.CacheDir, "src", c.name)
	if err := os.RemoveAll(src); err != nil {
		return "", err
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), goMod, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.sum"), goSum, 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(entry); err != nil {
		return "", err
	}
	staging := entry + ".partial"
	if err := os.RemoveAll(staging); err != nil {
		return "", err
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return "", err
	}

	names := make([]string, 0, len(c.binaries))
	for name := range c.binaries {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(opts.Progress, "toolchain: building %s %s (%s) from the Go module proxy; a cold build takes about %s on 2 cores, once per machine\n",
		c.module, c.version, strings.Join(names, ", "), c.coldEstimate)
	started := time.Now()
	if err := writePatchedSources(ctx, goBin, src, c.patches); err != nil {
		return "", err
	}
	stopReporting := reportWhileRunning(opts.Progress, opts.ProgressInterval, c.name, started)
	for _, name := range names {
		out, err := runGo(ctx, goBin, src, "build", "-trimpath", "-ldflags="+ldflags, "-o", filepath.Join(staging, name), c.binaries[name])
		if err != nil {
			stopReporting()
			return "", fmt.Errorf("go build %s: %w\n%s", c.binaries[name], err, tail(out, 40))
		}
	}
	stopReporting()

	if c.copyAssets != nil {
		out, err := runGo(ctx, goBin, src, "list", "-m", "-f", "{{.Dir}}", c.module)
		if err != nil {
			return "", fmt.Errorf("locating the %s module source: %w\n%s", c.module, err, out)
		}
		if err := c.copyAssets(strings.TrimSpace(out), staging); err != nil {
			return "", fmt.Errorf("copying assets of %s: %w", c.module, err)
		}
	}
	if err := os.WriteFile(filepath.Join(staging, completeMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(staging, entry); err != nil {
		return "", err
	}
	fmt.Fprintf(opts.Progress, "toolchain: built %s %s in %s\n", c.name, c.version, time.Since(started).Round(time.Second))
	return entry, nil
}

// runGo runs the go command in a wrapper module, isolated from any go.work the
// caller may have, and returns its combined output.
func runGo(ctx context.Context, goBin, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// reportWhileRunning prints a line every interval until the returned func is called.
func reportWhileRunning(w io.Writer, interval time.Duration, name string, started time.Time) (stop func()) {
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				fmt.Fprintf(w, "toolchain: still building %s, %s so far\n", name, time.Since(started).Round(time.Second))
			}
		}
	}()
	return func() { close(done) }
}

func checkFreeSpace(dir string) error {
	var stat unix.Statfs_t
	if err := unix.Statfs(dir, &stat); err != nil {
		return fmt.Errorf("checking free space in %s: %w", dir, err)
	}
	free := stat.Bavail * uint64(stat.Bsize)
	if free < minFreeBytes {
		return fmt.Errorf("only %d MiB free in %s; building the local control plane needs about %d MiB (binaries and the Go build cache)",
			free>>20, dir, uint64(minFreeBytes)>>20)
	}
	return nil
}

// lockCache takes an exclusive lock on the cache so parallel test binaries wait
// for one build rather than run several at once.
func lockCache(ctx context.Context, opts Options) (func(), error) {
	file, err := os.OpenFile(filepath.Join(opts.CacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the cache lock: %w", err)
	}
	said := false
	for {
		err := unix.Flock(int(file.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(file.Fd()), unix.LOCK_UN); _ = file.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = file.Close()
			return nil, fmt.Errorf("locking %s: %w", file.Name(), err)
		}
		if !said {
			fmt.Fprintf(opts.Progress, "toolchain: another process is building into %s; waiting for it\n", opts.CacheDir)
			said = true
		}
		select {
		case <-ctx.Done():
			_ = file.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func tail(text string, lines int) string {
	all := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
