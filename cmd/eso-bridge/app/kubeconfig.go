package app

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
)

// RestConfig loads the cluster's configuration from kubeconfig, or else
// in-cluster, $KUBECONFIG or ~/.kube/config.
func RestConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading --kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the cluster (in-cluster, $KUBECONFIG or ~/.kube/config; or pass --kubeconfig): %w", err)
	}
	return cfg, nil
}

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// OwnNamespace is the namespace eso-bridge runs in: the pod's own
// ($POD_NAMESPACE, else its ServiceAccount's), or outside a pod the current
// context's of kubeconfig (or of the default kubeconfig), as kubectl picks it.
func OwnNamespace(kubeconfig string) (string, error) {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).Namespace()
	if err != nil {
		return "", fmt.Errorf("finding eso-bridge's own namespace (not in a pod, no kubeconfig): %w", err)
	}
	return ns, nil
}

// digestKeySecret resolves --digest-key-secret: "name" is in eso-bridge's
// own namespace, "namespace/name" names both.
func digestKeySecret(flag, kubeconfig string) (types.NamespacedName, error) {
	namespace, name, qualified := strings.Cut(flag, "/")
	if !qualified {
		name = namespace
		own, err := OwnNamespace(kubeconfig)
		if err != nil {
			return types.NamespacedName{}, err
		}
		namespace = own
	}
	errs := append(validation.IsDNS1123Label(namespace), validation.IsDNS1123Subdomain(name)...)
	if len(errs) > 0 {
		return types.NamespacedName{}, fmt.Errorf("--digest-key-secret must be a Secret's name or namespace/name, got %q: %s", flag, strings.Join(errs, "; "))
	}
	return types.NamespacedName{Namespace: namespace, Name: name}, nil
}
