package bench_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// childModeEnv makes the test binary run as a child process instead of the
// benchmarks: the controller must be measured as a process of its own, so
// that its resident memory and CPU time are its own.
const childModeEnv = "ESO_BRIDGE_BENCH_CHILD"

const (
	// modeController runs `eso-bridge run` with the remaining arguments: the
	// production entry point, unchanged.
	modeController = "controller"
	// modeSecretInformer holds every Secret of a namespace, data included, in
	// a plain client-go informer: what a controller that watches whole Secrets
	// keeps in memory, for comparison.
	modeSecretInformer = "secret-informer"
)

// runChild runs one child mode until SIGTERM, and returns the exit code.
func runChild(mode string, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch mode {
	case modeController:
		err = app.Run(ctx, args, os.Stderr, "bench")
	case modeSecretInformer:
		err = holdSecrets(ctx, args)
	default:
		err = fmt.Errorf("unknown %s %q", childModeEnv, mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// holdSecrets caches the Secrets of namespace args[1] through the kubeconfig
// args[0], and prints "synced <n>" once its cache holds them.
func holdSecrets(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want a kubeconfig and a namespace, got %q", args)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", args[0])
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(clientset, 0, informers.WithNamespace(args[1]))
	informer := factory.Core().V1().Secrets().Informer()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	fmt.Printf("synced %d\n", len(informer.GetStore().List()))
	<-ctx.Done()
	return nil
}

// child is a running child process.
type child struct {
	cmd     *exec.Cmd
	done    chan error
	log     string
	metrics string // base URL of the controller's metrics, or ""
}

// startController runs `eso-bridge run` as a child process against the
// control plane with args and the extra environment env, serving metrics on
// a loopback port, and returns once it serves them: exe is a built
// eso-bridge binary, or "" for this test binary in modeController.
func startController(b *testing.B, exe string, env []string, args ...string) *child {
	b.Helper()
	c := launchController(b, exe, env, args...)
	c.waitMetrics(b)
	return c
}

// launchController starts the controller and returns at once: exe is a
// built eso-bridge binary, or "" for this test binary in modeController.
func launchController(b *testing.B, exe string, env []string, args ...string) *child {
	b.Helper()
	port := freePort(b)
	args = append([]string{"--kubeconfig", harness.ControlPlane(b).KubeconfigPath,
		"--metrics-bind-address", port, "--health-probe-bind-address", "0", "--log-format", "text"}, args...)
	var c *child
	if exe == "" {
		c = startChild(b, modeController, env, args...)
	} else {
		c = startProcess(b, exe, "eso-bridge", env, args...)
	}
	c.metrics = "http://" + port
	return c
}

// waitMetrics waits until the controller serves its metrics.
func (c *child) waitMetrics(b *testing.B) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := c.scrape(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the controller serves no metrics after a minute; its log:\n%s", c.tail(40))
		}
		select {
		case err := <-c.done:
			b.Fatalf("the controller exited: %v; its log:\n%s", err, c.tail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startChild re-executes the test binary in mode, logging to a file in the
// control plane's log folder; it is stopped when the benchmark ends.
func startChild(b *testing.B, mode string, env []string, args ...string) *child {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	return startProcess(b, self, mode, append([]string{childModeEnv + "=" + mode}, env...), args...)
}

// startProcess runs exe with args and the extra environment env, logging
// to a file named after name in the control plane's log folder; it is
// stopped when the benchmark ends.
func startProcess(b *testing.B, exe, name string, env []string, args ...string) *child {
	b.Helper()
	logPath := filepath.Join(harness.ControlPlane(b).LogDir, fmt.Sprintf("bench-%s-%d.log", name, time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The child dies with the benchmark process, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the %s child: %v", name, err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { c.done <- cmd.Wait(); _ = logFile.Close() }()
	b.Cleanup(c.stop)
	return c
}

// stop ends the child with SIGTERM, then SIGKILL after 10 s.
func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// tail is the end of the child's log.
func (c *child) tail(lines int) string {
	data, _ := os.ReadFile(c.log)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(len(all)-lines, 0):], "\n")
}

// startDone is the line the controller logs once its start's work is done
// and the memory that work used is given back.
const startDone = "the start's work is done"

// waitLog waits until the child's log has a line containing text.
func (c *child) waitLog(b *testing.B, text string, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if f, err := os.Open(c.log); err == nil {
			scanner := bufio.NewScanner(f)
			scanner.Buffer(make([]byte, 1<<20), 1<<20)
			for scanner.Scan() {
				if strings.Contains(scanner.Text(), text) {
					_ = f.Close()
					return
				}
			}
			_ = f.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("no %q in the child's log after %s:\n%s", text, timeout, c.tail(20))
}

// procStats is what the kernel accounts for a process.
type procStats struct {
	RSSBytes float64
	// PeakRSSBytes is the largest the resident set has been (VmHWM): what
	// a memory limit must leave room for, the start's burst included.
	PeakRSSBytes float64
	CPU          time.Duration // user + system
}

// stats reads the child's resident set size, now and at its peak, and its
// CPU time from /proc.
func (c *child) stats(b *testing.B) procStats {
	b.Helper()
	pid := c.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("reading the child's memory: %v", err)
	}
	var s procStats
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			s.RSSBytes = kb * 1024
		case "VmHWM:":
			s.PeakRSSBytes = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("reading the child's CPU time: %v", err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th of them, in clock ticks (USER_HZ, 100).
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseFloat(rest[11], 64)
	stime, _ := strconv.ParseFloat(rest[12], 64)
	s.CPU = time.Duration((utime + stime) * float64(time.Second) / 100)
	return s
}

// anonymousRSS is the part of the child's resident set that is its own
// memory (heap, stacks), not the pages of its binary: those are page cache,
// shared and reclaimable, and a Go binary's init functions, spread through
// its text, fault most of it in.
func (c *child) anonymousRSS(b *testing.B) float64 {
	b.Helper()
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", c.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading the child's memory map: %v", err)
	}
	for _, line := range strings.Split(string(rollup), "\n") {
		if fields := strings.Fields(line); len(fields) == 3 && fields[0] == "Anonymous:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb * 1024
		}
	}
	b.Fatal("no Anonymous line in smaps_rollup")
	return 0
}

// scrape reads the controller's Prometheus metrics.
func (c *child) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(c.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// sum adds up every series of the metric family name whose labels include
// the label=value pairs of where: a counter's or gauge's value, a
// histogram's count of observations.
func (c *child) sum(b *testing.B, name string, where ...string) float64 {
	b.Helper()
	families, err := c.scrape()
	if err != nil {
		b.Fatalf("scraping the controller: %v", err)
	}
	total := 0.0
	if family, ok := families[name]; ok {
	series:
		for _, m := range family.GetMetric() {
			for i := 0; i+1 < len(where); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == where[i] && l.GetValue() == where[i+1] }) {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount()) // observations
			}
		}
	}
	return total
}

func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

// freePort returns a free loopback address.
func freePort(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
