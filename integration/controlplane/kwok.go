package controlplane

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// startKwok starts kwok, which plays the kubelet of every node: it makes nodes
// Ready and scheduled pods Running and Ready, so rollouts really complete.
// Node and pod IPs are only written into status, never routed; they come from
// the loopback range all the same.
func (cp *ControlPlane) startKwok() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{
		"--kubeconfig=" + cp.KubeconfigPath,
		"--manage-all-nodes=true",
		"--server-address=" + hostPort(port),
		"--node-ip=127.0.0.1",
		"--cidr=127.64.0.0/16",
	}
	for _, stage := range cp.Binaries.KwokStages {
		args = append(args, "--config="+stage)
	}
	_, err = cp.start("kwok", cp.Binaries.Kwok, args, nil, hostPort(port))
	return err
}

// NodeName returns the name of the i-th simulated node.
func NodeName(i int) string { return "kwok-node-" + strconv.Itoa(i) }

// addNodes creates n simulated nodes and waits until each is Ready and free of
// the not-ready taint, which proves kwok, kube-controller-manager
// (node-lifecycle) and the API server work together.
func (cp *ControlPlane) addNodes(ctx context.Context, n int) error {
	for i := range n {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        NodeName(i),
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
				Labels: map[string]string{
					"kubernetes.io/hostname": NodeName(i),
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"type":                   "kwok",
				},
			},
		}
		if err := cp.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("creating node %s: %w", node.Name, err)
		}
	}
	kwok := cp.process("kwok")
	return waitReady(ctx, kwok, 2*time.Minute, fmt.Sprintf("%d Ready node(s)", n), func(ctx context.Context) error {
		var nodes corev1.NodeList
		if err := cp.Client.List(ctx, &nodes, client.MatchingLabels{"type": "kwok"}); err != nil {
			return err
		}
		var notReady []string
		for _, node := range nodes.Items {
			if !nodeSchedulable(&node) {
				notReady = append(notReady, node.Name)
			}
		}
		if len(nodes.Items) < n || len(notReady) > 0 {
			return fmt.Errorf("%d of %d nodes not ready yet: %s", len(notReady)+n-len(nodes.Items), n, strings.Join(notReady, ", "))
		}
		return nil
	})
}

func nodeSchedulable(node *corev1.Node) bool {
	for _, taint := range node.Spec.Taints {
		if taint.Effect == corev1.TaintEffectNoSchedule || taint.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
