package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/window"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// traceOptions are the flags of `eso-bridge trace`.
type traceOptions struct {
	readFlags
	// waves, autoAll and restartWindow are the controller's flags that
	// place a rotation's consumers in its waves and restart windows.
	waves         string
	autoAll       bool
	restartWindow string
}

func newTraceCommand() *cobra.Command {
	var opts traceOptions
	cmd := &cobra.Command{
		Use:   "trace [-n namespace] <externalsecret> | <kind>/<name> | <namespace>/<externalsecret> | <namespace>/<kind>/<name>",
		Short: "Print the timeline of an ExternalSecret's or a workload's latest rotation, from cluster state",
		Long: `Prints the timeline of the latest rotation — vault change, trigger, ESO's write
and confirmation, each restart and its new pods — from cluster state alone,
with no tracing backend. Kinds: deployment, statefulset, daemonset, cronjob,
rollout (where the cluster serves them).`,
		Example: `  eso-bridge trace -n payments db-credentials
  eso-bridge trace payments/deployment/api -o json`,
		Args:              exactlyOne("object"),
		ValidArgsFunction: completeObject,
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd.Context(), args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.bind(cmd.Flags(), "without read access to it, a rotation eso-bridge did not trigger is found only through a workload it restarted, and its waves are not judged")
	cmd.Flags().StringVar(&opts.waves, "waves", string(annotations.WavesOff), "judge waves as a controller run with --waves (off, ordered or canary)")
	cmd.Flags().BoolVar(&opts.autoAll, "auto-all", false, "judge waves as a controller run with --auto-all")
	cmd.Flags().StringVar(&opts.restartWindow, "restart-window", "", "judge restart windows as a controller run with --restart-window")
	return cmd
}

// Trace runs `eso-bridge trace` with args, as tests run it in-process.
func Trace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return executeAlone(ctx, newTraceCommand(), args, stdout, stderr)
}

func (o *traceOptions) run(ctx context.Context, object string, stdout, stderr io.Writer) error {
	mode, err := annotations.ParseWaveMode(o.waves)
	if err != nil {
		return fmt.Errorf("--waves: %w", err)
	}
	restartWindow, err := window.Parse(o.restartWindow)
	if err != nil {
		return fmt.Errorf("--restart-window: %w", err)
	}
	c, ref, key, err := o.open(ctx, object, stderr, "a rotation eso-bridge did not trigger is found only through a workload it restarted")
	if err != nil {
		return err
	}
	kinds := workload.Served(c.RESTMapper())
	r, err := loadRotation(ctx, rotation.Loader{Client: c, Pods: c, Kinds: kinds, Key: key, Waves: mode, AutoAll: o.autoAll, RestartWindow: restartWindow}, ref)
	if err != nil {
		return err
	}
	if o.output != outputTable {
		return printStructured(stdout, o.output, r)
	}
	return PrintRotation(stdout, r)
}

// loadRotation reads the rotation of an ExternalSecret or a workload.
func loadRotation(ctx context.Context, loader rotation.Loader, ref objectRef) (*rotation.Rotation, error) {
	if ref.kind == "" {
		return loader.ForExternalSecret(ctx, ref.NamespacedName)
	}
	kind, ok := workload.Named(loader.Kinds, ref.kind)
	if !ok {
		return nil, fmt.Errorf("%s: kind %q is not one of %s (served by this cluster)", ref, ref.kind, kindNames(loader.Kinds))
	}
	return loader.ForWorkload(ctx, kind, ref.NamespacedName)
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
	if r.Failure != "" {
		fmt.Fprintf(w, "Failed: %s.\nHeld, keeping their pods: %s.\n", r.Failure, strings.Join(r.Held, ", "))
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
