package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

// runAsCommandEnv makes this test binary behave as the eso-bridge command, so
// tests exercise the real command line without a separate build.
const runAsCommandEnv = "ESO_BRIDGE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsCommandEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// command returns the eso-bridge command line with args.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), runAsCommandEnv+"=1")
	return cmd
}

var exportKubeconfig = regexp.MustCompile(`export KUBECONFIG=(\S+)`)
var exportPath = regexp.MustCompile(`export PATH=(\S+):\$PATH`)

// TestSandboxServesESOAndStopsCleanlyOnCtrlC does what the README tells a
// user: start the sandbox, list ESO's CRDs with the kubectl and kubeconfig it
// prints, press Ctrl-C — and then finds no process still using its folder.
func TestSandboxServesESOAndStopsCleanlyOnCtrlC(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	sandbox := command(ctx, "sandbox")
	stdout, err := sandbox.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	sandbox.Stderr = &stderr
	if err := sandbox.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var printed strings.Builder
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			printed.WriteString(scanner.Text() + "\n")
			if strings.Contains(scanner.Text(), "Press Ctrl-C") {
				break
			}
		}
		exited <- nil
	}()
	select {
	case <-exited:
	case <-ctx.Done():
		t.Fatalf("the sandbox did not come up; stderr:\n%s", stderr.String())
	}
	kubeconfig := exportKubeconfig.FindStringSubmatch(printed.String())
	kubectlDir := exportPath.FindStringSubmatch(printed.String())
	if kubeconfig == nil || kubectlDir == nil {
		_ = sandbox.Process.Kill()
		t.Fatalf("the sandbox printed no KUBECONFIG or kubectl path:\n%s\nstderr:\n%s", printed.String(), stderr.String())
	}

	kubectl := exec.CommandContext(ctx, filepath.Join(kubectlDir[1], "kubectl"), "get", "crds", "-o", "name")
	kubectl.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig[1])
	crds, err := kubectl.CombinedOutput()
	if err != nil {
		t.Errorf("kubectl get crds: %v\n%s", err, crds)
	}
	for _, crd := range []string{"externalsecrets.external-secrets.io", "secretstores.external-secrets.io", "clustersecretstores.external-secrets.io"} {
		if !strings.Contains(string(crds), crd) {
			t.Errorf("kubectl get crds does not list %s:\n%s", crd, crds)
		}
	}

	if err := sandbox.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Wait(); err != nil {
		t.Errorf("the sandbox exited with %v after Ctrl-C, want success; stderr:\n%s", err, stderr.String())
	}
	sandboxDir := filepath.Dir(kubeconfig[1])
	if left := componentsOf(sandboxDir); len(left) > 0 {
		t.Errorf("components of the sandbox still running after Ctrl-C: %v", left)
	}
	if _, err := os.Stat(sandboxDir); !os.IsNotExist(err) {
		t.Errorf("the sandbox folder %s is still there after Ctrl-C (%v)", sandboxDir, err)
	}
}

// componentsOf lists the live processes started for the control plane in dir:
// each has controlplane.DirEnv=dir in its environment.
func componentsOf(dir string) []string {
	marker := controlplane.DirEnv + "=" + dir + "\x00"
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, entry := range entries {
		environ, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "environ"))
		if err != nil || !strings.Contains(string(environ), marker) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", entry.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") {
			continue // a zombie: dead, waiting for a parent that does not reap
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		found = append(found, entry.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}
