package app

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// objectRef is the object a command is about: an ExternalSecret (kind "")
// or a workload.
type objectRef struct {
	types.NamespacedName
	// kind is the workload kind as the user wrote it; "" for an ExternalSecret.
	kind string
}

func (r objectRef) String() string {
	if r.kind == "" {
		return r.Namespace + "/externalsecret/" + r.Name
	}
	return r.Namespace + "/" + strings.ToLower(r.kind) + "/" + r.Name
}

// externalSecretWords name the ExternalSecret kind on the command line.
var externalSecretWords = map[string]bool{"externalsecret": true, "externalsecrets": true, "es": true}

// isKindWord reports whether word names a kind (a workload's or
// ExternalSecret), not a namespace.
func isKindWord(word string) bool {
	_, ok := annotations.CanonicalKind(word)
	return ok || externalSecretWords[strings.ToLower(word)]
}

// parseObject reads an object argument as kubectl users write it, in
// namespace unless it names its own:
//
//	name                          an ExternalSecret
//	kind/name                     a workload (deployment/api), or externalsecret/name
//	namespace/name                an ExternalSecret in namespace
//	namespace/kind/name           a workload or ExternalSecret in namespace
//
// A first part that names a kind is a kind, not a namespace. The default
// namespace is asked for only when the argument names none.
func parseObject(arg string, defaultNamespace func() (string, error)) (objectRef, error) {
	parts := strings.Split(arg, "/")
	var ref objectRef
	switch {
	case len(parts) == 1:
		ref = objectRef{NamespacedName: types.NamespacedName{Name: parts[0]}}
	case len(parts) == 2 && isKindWord(parts[0]):
		ref = objectRef{NamespacedName: types.NamespacedName{Name: parts[1]}, kind: parts[0]}
	case len(parts) == 2:
		ref = objectRef{NamespacedName: types.NamespacedName{Namespace: parts[0], Name: parts[1]}}
	case len(parts) == 3:
		ref = objectRef{NamespacedName: types.NamespacedName{Namespace: parts[0], Name: parts[2]}, kind: parts[1]}
	default:
		return objectRef{}, usagef("%q is none of <name>, <kind>/<name>, <namespace>/<name> and <namespace>/<kind>/<name>", arg)
	}
	if externalSecretWords[strings.ToLower(ref.kind)] {
		ref.kind = ""
	}
	if ref.kind != "" && !isKindWord(ref.kind) {
		return objectRef{}, usagef("%q: kind %q is not one of deployment, statefulset, daemonset, cronjob, rollout, externalsecret", arg, ref.kind)
	}
	if ref.Namespace == "" && len(parts) < 3 && (len(parts) == 1 || isKindWord(parts[0])) {
		namespace, err := defaultNamespace()
		if err != nil {
			return objectRef{}, err
		}
		ref.Namespace = namespace
	}
	if errs := append(validation.IsDNS1123Label(ref.Namespace), validation.IsDNS1123Subdomain(ref.Name)...); len(errs) > 0 {
		return objectRef{}, usagef("%q: %s", arg, strings.Join(errs, "; "))
	}
	return ref, nil
}

// connect reads the object argument against -n (or the context's namespace)
// and returns a client of the cluster the flags name.
func (f *clusterFlags) connect(object string) (client.Client, objectRef, error) {
	ref, err := parseObject(object, f.namespace)
	if err != nil {
		return nil, objectRef{}, err
	}
	if f.overrides.Context.Namespace != "" && ref.Namespace != f.overrides.Context.Namespace {
		return nil, objectRef{}, usagef("%q names namespace %s, and -n says %s", object, ref.Namespace, f.overrides.Context.Namespace)
	}
	cfg, err := f.restConfig()
	if err != nil {
		return nil, objectRef{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: bridge.Scheme})
	if err != nil {
		return nil, objectRef{}, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, ref, nil
}

// readFlags are the flags of a command that reads one object from the
// cluster and prints it: kubectl's connection flags, -o, and eso-bridge's
// digest key.
type readFlags struct {
	cluster         clusterFlags
	output          string
	digestKeySecret string
}

// bind registers the flags on fs; keyHelp says what the digest key is for.
func (f *readFlags) bind(fs *pflag.FlagSet, keyHelp string) {
	f.cluster.bind(fs)
	fs.StringVarP(&f.output, "output", "o", outputTable, "output format: table, json or yaml")
	fs.StringVar(&f.digestKeySecret, "digest-key-secret", "eso-bridge/"+bridge.DefaultDigestKeySecret, "Secret (namespace/name) holding eso-bridge's digest key; "+keyHelp)
}

// open checks -o, connects, reads the object argument, and reads the digest
// key: nil, with a note on stderr saying what is lost, when it cannot be read.
func (f *readFlags) open(ctx context.Context, object string, stderr io.Writer, withoutKey string) (client.Client, objectRef, *digest.Key, error) {
	if err := checkOutput(f.output, outputTable, outputJSON, outputYAML); err != nil {
		return nil, objectRef{}, nil, err
	}
	c, ref, err := f.cluster.connect(object)
	if err != nil {
		return nil, objectRef{}, nil, err
	}
	keySecret, err := digestKeySecret(f.digestKeySecret, f.cluster.kubeconfig)
	if err != nil {
		return nil, objectRef{}, nil, usageError{err}
	}
	key, err := bridge.ReadDigestKey(ctx, c, keySecret)
	if err != nil {
		fmt.Fprintf(stderr, "note: %v; %s\n", err, withoutKey)
		return c, ref, nil, nil
	}
	return c, ref, &key, nil
}

// kindNames lists kinds as the command line writes them.
func kindNames(kinds []workload.Kind) string {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, strings.ToLower(k.Kind()))
	}
	return strings.Join(names, ", ")
}

// completeObject completes an object argument with the kinds it may start
// with; names are the user's to type.
func completeObject(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return []string{"deployment/", "statefulset/", "daemonset/", "cronjob/", "rollout/", "externalsecret/"}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// executeAlone runs one command outside the root, as tests call it, with
// the root's handling of errors.
func executeAlone(ctx context.Context, cmd *cobra.Command, args []string, stdout, stderr io.Writer) error {
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd.ExecuteContext(ctx)
}
