package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// clusterFlags are kubectl's flags for reaching a cluster: --kubeconfig,
// --context, -n/--namespace, --server, --token, --as and the rest, bound by
// client-go's own clientcmd. (cli-runtime's ConfigFlags would bind the same,
// but links kustomize through its file flags.)
type clusterFlags struct {
	kubeconfig string
	overrides  clientcmd.ConfigOverrides
}

// bind registers the flags on fs.
func (f *clusterFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)")
	clientcmd.BindOverrideFlags(&f.overrides, fs, clientcmd.RecommendedConfigOverrideFlags(""))
}

func (f *clusterFlags) clientConfig() clientcmd.ClientConfig {
	return clientConfig(f.kubeconfig, &f.overrides)
}

// restConfig is the configuration of the cluster the flags name.
func (f *clusterFlags) restConfig() (*rest.Config, error) {
	return loadRestConfig(f.clientConfig())
}

// namespace is -n, else the context's namespace, else "default".
func (f *clusterFlags) namespace() (string, error) {
	ns, _, err := f.clientConfig().Namespace()
	if err != nil {
		return "", fmt.Errorf("finding the namespace (pass -n): %w", err)
	}
	return ns, nil
}

// clientConfig loads kubeconfig as kubectl does — the file given, else
// $KUBECONFIG, else ~/.kube/config — with overrides, and falls back to the
// pod's in-cluster configuration when there is no file.
func clientConfig(kubeconfig string, overrides *clientcmd.ConfigOverrides) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

func loadRestConfig(cc clientcmd.ClientConfig) (*rest.Config, error) {
	cfg, err := cc.ClientConfig()
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
