package controlplane

import (
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Component names that tests can kill and start again.
const (
	ComponentAPIServer       = "kube-apiserver"
	ComponentExternalSecrets = "external-secrets"
)

// KillComponent kills one component and everything it started at once
// (SIGKILL), as a crash or a lost node would.
func (cp *ControlPlane) KillComponent(name string) error {
	p := cp.process(name)
	if p == nil {
		return fmt.Errorf("no component %q", name)
	}
	p.stop(0)
	return nil
}

// StartComponent starts a killed component again with the same command line,
// environment and addresses, and waits until it serves: its addresses accept
// connections, and for kube-apiserver, requests are answered.
func (cp *ControlPlane) StartComponent(ctx context.Context, name string) error {
	old := cp.process(name)
	if old == nil {
		return fmt.Errorf("no component %q", name)
	}
	if old.running() {
		return fmt.Errorf("%s is still running", name)
	}
	p, err := startProcess(name, old.cmd.Path, old.cmd.Args[1:], old.cmd.Env, cp.LogDir)
	if err != nil {
		return err
	}
	p.addresses = old.addresses
	cp.mu.Lock()
	for i := range cp.processes {
		if cp.processes[i] == old {
			cp.processes[i] = p
		}
	}
	cp.mu.Unlock()
	return waitReady(ctx, p, 2*time.Minute, "serving again", func(ctx context.Context) error {
		for _, address := range p.addresses {
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", address)
			if err != nil {
				return err
			}
			_ = conn.Close()
		}
		if name == ComponentAPIServer {
			return cp.Client.List(ctx, &corev1.NamespaceList{}, client.Limit(1))
		}
		return nil
	})
}
