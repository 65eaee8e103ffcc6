package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// traceOptions are the flags of `eso-bridge trace`.
type traceOptions struct {
	kubeconfig      string
	output          string
	digestKeySecret string
}

// BindFlags registers the options on fs.
func (o *traceOptions) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&o.output, "o", "table", "output format: table or json")
	fs.StringVar(&o.digestKeySecret, "digest-key-secret", "eso-bridge/"+bridge.DefaultDigestKeySecret, "Secret (namespace/name) holding eso-bridge's digest key; without read access to it, a rotation eso-bridge did not trigger is found only through a workload it restarted")
}

// Trace is `eso-bridge trace`: it prints the timeline of the latest rotation
// of an ExternalSecret or a workload, read from cluster state alone.
func Trace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opts traceOptions
	fs := NewFlagSet("eso-bridge trace", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: eso-bridge trace [flags] <namespace>/<externalsecret> | <namespace>/<kind>/<name>")
		fmt.Fprintln(stderr, "\nPrints the timeline of the latest rotation from cluster state alone. Flags:")
		fs.PrintDefaults()
	}
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("trace takes one object, got %d arguments", fs.NArg())
	}
	if opts.output != "table" && opts.output != "json" {
		return fmt.Errorf("-o must be table or json, got %q", opts.output)
	}
	cfg, err := RestConfig(opts.kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: bridge.Scheme})
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	keySecret, err := digestKeySecret(opts.digestKeySecret, opts.kubeconfig)
	if err != nil {
		return err
	}
	var key *digest.Key
	if k, err := bridge.ReadDigestKey(ctx, c, keySecret); err == nil {
		key = &k
	} else {
		fmt.Fprintf(stderr, "note: %v; a rotation eso-bridge did not trigger is found only through a workload it restarted\n", err)
	}
	r, err := loadRotation(ctx, c, key, fs.Arg(0))
	if err != nil {
		return err
	}
	if opts.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return PrintRotation(stdout, r)
}

// loadRotation reads the rotation of "namespace/externalsecret" or
// "namespace/kind/name".
func loadRotation(ctx context.Context, c client.Client, key *digest.Key, object string) (*rotation.Rotation, error) {
	kinds := workload.Served(c.RESTMapper())
	loader := rotation.Loader{Client: c, Pods: c, Kinds: kinds, Key: key}
	parts := strings.Split(object, "/")
	switch len(parts) {
	case 2:
		return loader.ForExternalSecret(ctx, types.NamespacedName{Namespace: parts[0], Name: parts[1]})
	case 3:
		kind, ok := workload.Named(kinds, parts[1])
		if !ok {
			return nil, fmt.Errorf("%q: kind %q is not one of deployment, statefulset, daemonset, cronjob, rollout (served by this cluster)", object, parts[1])
		}
		return loader.ForWorkload(ctx, kind, types.NamespacedName{Namespace: parts[0], Name: parts[2]})
	}
	return nil, fmt.Errorf("%q is neither <namespace>/<externalsecret> nor <namespace>/<kind>/<name>", object)
}

// timelineRow is one line of the table.
type timelineRow struct {
	stage, object string
	at            *time.Time
	// since is the stage this one is measured from.
	since *time.Time
	note  string
}

// timelineRows lays a rotation out stage by stage.
func timelineRows(r *rotation.Rotation) []timelineRow {
	var rows []timelineRow
	es := "externalsecret/" + r.ExternalSecret
	if r.VaultChangedAt != nil {
		rows = append(rows, timelineRow{stage: "vault change", object: strings.Join(r.VaultVersions, ", "), at: r.VaultChangedAt})
	}
	if r.TriggeredAt != nil {
		rows = append(rows, timelineRow{stage: "triggered", object: es, at: r.TriggeredAt, since: r.VaultChangedAt})
	}
	if r.WrittenAt != nil {
		rows = append(rows, timelineRow{stage: "ESO wrote", object: "secret/" + r.Secret, at: r.WrittenAt, since: r.TriggeredAt,
			note: "resourceVersion " + r.SecretResourceVersion})
	}
	if r.ConfirmedAt != nil {
		// The API server records ESO's status write to the second.
		rows = append(rows, timelineRow{stage: "ESO confirmed", object: es, at: r.ConfirmedAt, since: r.WrittenAt, note: "to the second"})
	}
	for _, w := range r.Workloads {
		name := strings.ToLower(w.Kind) + "/" + w.Name
		patched := w.PatchedAt
		rows = append(rows, timelineRow{stage: "restarted", object: name, at: &patched, since: r.WrittenAt, note: "revision " + w.Revision})
		for _, p := range w.Pods {
			// The kubelet's Ready time is recorded to the second.
			note := "to the second"
			if p.ReadyAt == nil {
				note = "not Ready yet"
			}
			rows = append(rows, timelineRow{stage: "  pod Ready", object: "pod/" + p.Name, at: p.ReadyAt, since: &patched, note: note})
		}
		switch w.Outcome {
		case events.ReasonRolloutComplete:
			rows = append(rows, timelineRow{stage: "rollout complete", object: name, at: w.FinishedAt, since: &patched})
		case events.ReasonRolloutStalled:
			rows = append(rows, timelineRow{stage: "rollout stalled", object: name, at: w.FinishedAt, since: &patched, note: w.Message})
		}
	}
	return rows
}

// PrintRotation writes the rotation as a table, then what is still waiting.
func PrintRotation(w io.Writer, r *rotation.Rotation) error {
	subject := "ExternalSecret " + r.Namespace + "/" + r.ExternalSecret
	if r.ExternalSecret == "" {
		subject = "namespace " + r.Namespace
	}
	fmt.Fprintf(w, "Rotation of %s (trace %s)\n\n", subject, r.TraceID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tOBJECT\tAT\tAFTER\tNOTE")
	for _, row := range timelineRows(r) {
		at, after := "-", "-"
		if row.at != nil {
			at = row.at.UTC().Format("2006-01-02T15:04:05.000Z")
			if row.since != nil {
				after = "+" + formatDuration(row.at.Sub(*row.since))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.stage, row.object, at, after, row.note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if start, end := r.Start(), r.End(); !start.IsZero() {
		fmt.Fprintf(w, "\nTotal: %s from %s to the last stage.\n", formatDuration(end.Sub(start)), startedBy(r))
	}
	if len(r.Waiting) == 0 {
		fmt.Fprintln(w, "Waiting: nothing.")
		return nil
	}
	fmt.Fprintln(w, "Waiting:")
	for _, why := range r.Waiting {
		fmt.Fprintln(w, "  -", why)
	}
	return nil
}

func startedBy(r *rotation.Rotation) string {
	if r.VaultChangedAt != nil {
		return "the vault change"
	}
	return "ESO's write"
}

// formatDuration rounds to what a reader needs: milliseconds under a minute.
func formatDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
