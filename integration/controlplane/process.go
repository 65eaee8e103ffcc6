package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one component of the control plane running as a child process,
// with its output in a log file.
type process struct {
	name      string
	addresses []string // loopback host:port pairs it serves on
	logPath   string
	cmd       *exec.Cmd
	exited    chan struct{}
	waitErr   error
}

// launchRequest asks the launcher thread to start a command.
type launchRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	launchOnce sync.Once
	launches   chan launchRequest
)

// launch starts cmd from one OS thread that never exits. Children are started
// with Pdeathsig, which Linux delivers when the *thread* that forked them exits;
// starting them from a locked thread that lives as long as the process means
// they die exactly when this process dies — on a panic, a test timeout or a
// kill -9 — and never earlier.
func launch(cmd *exec.Cmd) error {
	launchOnce.Do(func() {
		launches = make(chan launchRequest)
		go func() {
			runtime.LockOSThread() // never unlocked, on purpose: see above
			for req := range launches {
				req.done <- req.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	launches <- launchRequest{cmd: cmd, done: done}
	return <-done
}

// startProcess runs path with args, its output going to logDir/name.log. The
// child gets its own process group (so a terminal's Ctrl-C reaches only us, and
// we stop the children in order) and is killed if this process dies.
func startProcess(name, path string, args, env []string, logDir string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := launch(cmd); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop asks the process group to terminate and kills it after grace.
func (p *process) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
	}
	// Whatever the leader left behind in its group goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// logTail returns the last lines of the process's log.
func (p *process) logTail(lines int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	all := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return string(bytes.Join(all, []byte("\n")))
}

// errExited is returned by waitReady when the process died while being waited for.
var errExited = errors.New("exited")

// waitReady polls check until it succeeds, the process exits or timeout passes.
// The error names what was awaited and carries the end of the process's log.
func waitReady(ctx context.Context, p *process, timeout time.Duration, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if !p.running() {
			return fmt.Errorf("%s %w before %s (%v); last lines of %s:\n%s", p.name, errExited, what, p.waitErr, p.logPath, p.logTail(30))
		}
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not reached in %s (last check: %v); last lines of %s:\n%s",
				p.name, what, timeout, last, p.logPath, indent(p.logTail(30)))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func indent(text string) string {
	return "    " + strings.ReplaceAll(text, "\n", "\n    ")
}
