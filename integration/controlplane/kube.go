package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// kubeControllers are the kube-controller-manager loops that make workloads
// really roll: Deployments, StatefulSets, DaemonSets, CronJobs and Jobs create
// pods; node-lifecycle removes the new node's not-ready taint (without it pods
// stay Pending); the garbage collector removes old ReplicaSets' pods; the
// namespace controller empties deleted test namespaces.
var kubeControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"statefulset-controller",
	"daemonset-controller",
	"cronjob-controller",
	"job-controller",
	"garbage-collector-controller",
	"node-lifecycle-controller",
	"namespace-controller",
}

// freePorts asks the kernel for n distinct unused loopback ports. All n are
// held open until the last is chosen, so that one call never returns a port
// twice; they are free when this returns, and the component that binds them is
// started right after (Start retries the rare race with another process).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freePort is freePorts(1).
func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func loopbackURL(scheme string, port int) string { return scheme + "://" + hostPort(port) }

// startEtcd starts a single-member etcd on two free loopback ports.
func (cp *ControlPlane) startEtcd(ctx context.Context) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	clientPort, peerPort := ports[0], ports[1]
	clientURL, peerURL := loopbackURL("http", clientPort), loopbackURL("http", peerPort)
	p, err := cp.start("etcd", cp.Binaries.Etcd, []string{
		"--name=default",
		"--data-dir=" + filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		// A throwaway store: durability costs fsyncs that slow every write.
		"--unsafe-no-fsync=true",
	}, nil, hostPort(clientPort), hostPort(peerPort))
	if err != nil {
		return "", err
	}
	return clientURL, waitReady(ctx, p, time.Minute, "health", func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, clientURL+"/health")
	})
}

// startAPIServer starts kube-apiserver on a free loopback port against etcd,
// with extra flags after its own.
func (cp *ControlPlane) startAPIServer(ctx context.Context, etcdURL string, creds credentials, extra ...string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	host := loopbackURL("https", port)
	p, err := cp.start("kube-apiserver", cp.Binaries.KubeAPIServer, append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + creds.servingCert,
		"--tls-private-key-file=" + creds.servingKey,
		"--token-auth-file=" + creds.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + host,
		"--service-account-key-file=" + creds.serviceAccountKey,
		"--service-account-signing-key-file=" + creds.serviceAccountKey,
		// Cluster IPs are only allocated, never routed: nothing here runs kube-proxy.
		"--service-cluster-ip-range=10.0.0.0/24",
		// As in envtest: no controller creates each namespace's default
		// ServiceAccount, and pods must not wait for one.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
	}, extra...), nil, hostPort(port))
	if err != nil {
		return err
	}
	cp.Config = creds.restConfig(host)
	clientset, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	return waitReady(ctx, p, 2*time.Minute, "readyz", func(ctx context.Context) error {
		body, err := clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(body), "ok") {
			return fmt.Errorf("readyz says %q", body)
		}
		return nil
	})
}

// startControllers starts kube-controller-manager and kube-scheduler with the
// admin kubeconfig. Neither serves anything: their readiness shows as nodes
// turning Ready and pods being scheduled, which Start waits for.
func (cp *ControlPlane) startControllers() error {
	if _, err := cp.start("kube-controller-manager", cp.Binaries.KubeControllerManager, []string{
		"--kubeconfig=" + cp.KubeconfigPath,
		"--controllers=" + strings.Join(kubeControllers, ","),
		"--secure-port=0",
		"--leader-elect=false",
		// New pods are wanted at once when a test rolls a workload.
		"--concurrent-deployment-syncs=10",
		"--concurrent-replicaset-syncs=10",
		// The default 20 requests a second takes a quarter of an hour to
		// sync the scale benchmark's 20,000 Deployments once eso-bridge has
		// adopted them, and their rollouts wait behind that.
		"--kube-api-qps=200",
		"--kube-api-burst=400",
	}, nil); err != nil {
		return err
	}
	_, err := cp.start("kube-scheduler", cp.Binaries.KubeScheduler, []string{
		"--kubeconfig=" + cp.KubeconfigPath,
		"--secure-port=0",
		"--leader-elect=false",
	}, nil)
	return err
}

func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// FreeLoopbackAddress returns a loopback host:port that nothing listens on
// now, for a server a test starts at once.
func FreeLoopbackAddress() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return hostPort(port), nil
}
