package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/optin"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/bridge/waves"
	"github.com/eso-bridge/eso-bridge/bridge/window"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// explainOptions are the flags of `eso-bridge explain`. The controller's
// flags that change decisions are repeated, so that the explanation is the
// decision of a controller run with them.
type explainOptions struct {
	readFlags
	decide bridge.Options
}

func (o *explainOptions) bind(fs *pflag.FlagSet) {
	o.readFlags.bind(fs, "needed to compare what a workload recorded with its sources now")
	fs.BoolVar(&o.decide.AutoAll, "auto-all", false, "decide as a controller run with --auto-all")
	fs.DurationVar(&o.decide.Settle, "settle", o.decide.Settle, "decide with the controller's --settle")
	fs.DurationVar(&o.decide.MaxGateWait, "max-gate-wait", o.decide.MaxGateWait, "decide with the controller's --max-gate-wait")
	fs.StringVar(&o.decide.Waves, "waves", o.decide.Waves, "decide with the controller's --waves (off, ordered or canary)")
	fs.StringVar(&o.decide.RestartWindow, "restart-window", o.decide.RestartWindow, `decide with the controller's --restart-window, e.g. "Mon-Fri 09:00-17:00 Europe/Paris"`)
}

func newExplainCommand() *cobra.Command {
	opts := explainOptions{decide: bridge.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "explain [-n namespace] <kind>/<name> | <externalsecret> | <namespace>/<kind>/<name> | <namespace>/<externalsecret>",
		Short: "Say why a workload would restart, wait or be held, or which workloads an ExternalSecret restarts, from cluster state",
		Long: `For a workload: which ExternalSecrets are its sources and why (which reference
or annotation), each source's ESO status and the age of its data, whether the
digest eso-bridge recorded still matches, and the gate's decision now —
restart, wait (for what, since when), hold (why), up to date — made by the
controller's own decision function. For an ExternalSecret: which workloads its
change restarts and why, and which workloads that use its Secret it does not.

It reads cluster state only. Vault versions the controller has seen but not
yet handed to ESO are known only to the controller: explain sees a rotation
from the moment eso-bridge triggers ESO.`,
		Example: `  eso-bridge explain -n payments deployment/api
  eso-bridge explain payments/db-credentials -o yaml`,
		Args:              exactlyOne("object"),
		ValidArgsFunction: completeObject,
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd.Context(), args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.bind(cmd.Flags())
	return cmd
}

// Explain runs `eso-bridge explain` with args, as tests run it in-process.
func Explain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return executeAlone(ctx, newExplainCommand(), args, stdout, stderr)
}

func (o *explainOptions) run(ctx context.Context, object string, stdout, stderr io.Writer) error {
	if _, err := annotations.ParseWaveMode(o.decide.Waves); err != nil {
		return fmt.Errorf("--waves: %w", err)
	}
	if _, err := window.Parse(o.decide.RestartWindow); err != nil {
		return fmt.Errorf("--restart-window: %w", err)
	}
	c, ref, key, err := o.open(ctx, object, stderr, "without the digest key, what a workload recorded cannot be compared with its sources")
	if err != nil {
		return err
	}
	e := explainer{Client: c, Kinds: workload.Served(c.RESTMapper()), Options: o.decide, Key: key, Now: time.Now()}
	if ref.kind == "" {
		x, err := e.externalSecret(ctx, ref)
		if err != nil {
			return err
		}
		if o.output != outputTable {
			return printStructured(stdout, o.output, x)
		}
		return printExternalSecretExplanation(stdout, x)
	}
	kind, ok := workload.Named(e.Kinds, ref.kind)
	if !ok {
		return fmt.Errorf("%s: kind %q is not one of %s (served by this cluster)", ref, ref.kind, kindNames(e.Kinds))
	}
	obj := kind.New()
	if err := c.Get(ctx, ref.NamespacedName, obj); err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	x, err := e.workload(ctx, kind, obj)
	if err != nil {
		return err
	}
	if o.output != outputTable {
		return printStructured(stdout, o.output, x)
	}
	return printWorkloadExplanation(stdout, x)
}

// WorkloadExplanation is what `eso-bridge explain` says of a workload.
type WorkloadExplanation struct {
	Workload string              `json:"workload"`
	Sources  []SourceExplanation `json:"sources"`
	// NotSources are ExternalSecrets the workload is linked to that are not
	// its sources, and why.
	NotSources []Reason `json:"notSources,omitempty"`
	// Unmanaged are the Secrets the pod template uses that no ExternalSecret
	// of the namespace writes.
	Unmanaged []string `json:"unmanagedSecrets,omitempty"`
	// Problems are annotations that do not parse or name nothing.
	Problems []string `json:"problems,omitempty"`
	// LastRestart is when eso-bridge last restarted the workload.
	LastRestart *time.Time `json:"lastRestart,omitempty"`
	Decision    Verdict    `json:"decision"`
}

// SourceExplanation is one source of a workload.
type SourceExplanation struct {
	ExternalSecret string `json:"externalSecret"`
	Secret         string `json:"secret"`
	Why            string `json:"why"`
	// Ready, Reason and Message are ESO's Ready condition.
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// StatusCurrent says ESO's status confirms the Secret's latest write.
	StatusCurrent bool `json:"statusCurrent"`
	// SecretWritten is false while ESO has not written the Secret;
	// WrittenAt is when its data was written (the API server's record is
	// to the second).
	SecretWritten bool       `json:"secretWritten"`
	WrittenAt     *time.Time `json:"writtenAt,omitempty"`
	// Recorded compares the digest eso-bridge recorded with the data now:
	// current, changed, not recorded, or unknown without the digest key.
	Recorded string `json:"recorded"`
}

// Reason is an object and why it is, or is not, in a list.
type Reason struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// Verdict is the gate's decision in a user's words.
type Verdict struct {
	// Verdict is restart, wait, hold, timed out, adopt, up to date, not a
	// consumer, ignored, or unknown.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
	// Blocking names the ExternalSecret that holds or delays it.
	Blocking string `json:"blocking,omitempty"`
	// Since is when the newest source's data was written (to the second):
	// the change it waits, is held or restarts for.
	Since *time.Time `json:"since,omitempty"`
	// Until is when a wait for a restart window ends: when it opens.
	Until *time.Time `json:"until,omitempty"`
}

// ExternalSecretExplanation is what `eso-bridge explain` says of an
// ExternalSecret.
type ExternalSecretExplanation struct {
	ExternalSecret string `json:"externalSecret"`
	Secret         string `json:"secret"`
	Ready          bool   `json:"ready"`
	Reason         string `json:"reason,omitempty"`
	Message        string `json:"message,omitempty"`
	// Rollout is its eso-bridge.io/rollout annotation as written.
	Rollout string `json:"rollout,omitempty"`
	// Waves is how its rotation restarts them: its eso-bridge.io/waves
	// annotation, else the --waves flag.
	Waves string `json:"waves"`
	// RestartWindow is when its consumers may restart for it: its
	// eso-bridge.io/restart-window annotation, else the --restart-window
	// flag ("always" without either). A workload's own annotation comes
	// before it.
	RestartWindow string   `json:"restartWindow"`
	Problems      []string `json:"problems,omitempty"`
	// Restarts are the workloads a change of it restarts, each with the
	// decision now; DoesNotRestart those linked to it that it does not.
	Restarts       []WorkloadVerdict `json:"restarts"`
	DoesNotRestart []Reason          `json:"doesNotRestart,omitempty"`
}

// WorkloadVerdict is a workload an ExternalSecret restarts.
type WorkloadVerdict struct {
	Workload string  `json:"workload"`
	Why      string  `json:"why"`
	Decision Verdict `json:"decision"`
}

// explainer gathers as the restart controller does, from a client without
// its caches, and decides with the gate.
type explainer struct {
	Client  client.Client
	Kinds   []workload.Kind
	Options bridge.Options
	// Key is nil when the digest key cannot be read.
	Key *digest.Key
	Now time.Time
}

func (e *explainer) gatherer(kind workload.Kind) *restart.Gatherer {
	g := &restart.Gatherer{Reader: e.Client, Kind: kind, AutoAll: e.Options.AutoAll}
	if e.Key != nil {
		g.Key = *e.Key
	}
	return g
}

func (e *explainer) workload(ctx context.Context, kind workload.Kind, obj client.Object) (*WorkloadExplanation, error) {
	x := &WorkloadExplanation{Workload: obj.GetNamespace() + "/" + strings.ToLower(kind.Kind()) + "/" + obj.GetName()}
	templateAnnotations := kind.TemplateAnnotations(obj)
	x.LastRestart = annotations.Time(templateAnnotations, annotations.AnnotationRestartedAt)
	own := obj.GetAnnotations()
	ignore, err := annotations.ParseBool(own[annotations.AnnotationIgnore])
	if err != nil {
		x.Problems = append(x.Problems, fmt.Sprintf("%s: %v (taken as ignore)", annotations.AnnotationIgnore, err))
	}
	if ignore || err != nil {
		x.Decision = Verdict{Verdict: "ignored", Message: "the workload has " + annotations.AnnotationIgnore + ": never restarted"}
		return x, nil
	}
	gathered, err := e.gatherer(kind).Gather(ctx, obj)
	if err != nil {
		return nil, err
	}
	for _, annotation := range restart.PolicyAnnotations {
		if err := gathered.Invalid[annotation]; err != nil {
			x.Problems = append(x.Problems, fmt.Sprintf("%s: %v (taken as absent)", annotation, err))
		}
	}
	if len(gathered.Missing) > 0 {
		x.Problems = append(x.Problems, fmt.Sprintf("%s names %s, which do not exist", annotations.AnnotationExternalSecrets, strings.Join(gathered.Missing, ", ")))
	}
	written := map[string]bool{}
	whyOf := map[string]string{}
	for _, c := range gathered.Candidates {
		written[eso.TargetSecret(c.ExternalSecret)] = true
		selected, why := optin.Why(kind.Kind(), obj.GetName(), gathered.Used, gathered.OptIn, e.Options.AutoAll, c)
		whyOf[c.ExternalSecret.Name] = why
		if !selected {
			x.NotSources = append(x.NotSources, Reason{Name: c.ExternalSecret.Name, Why: why})
		}
	}
	for _, secret := range gathered.Used {
		if !written[secret] {
			x.Unmanaged = append(x.Unmanaged, secret)
		}
	}
	recordedDigests := annotations.ParseSourceDigests(own[annotations.AnnotationSourceDigests])
	for _, s := range gathered.Sources {
		why := whyOf[s.ExternalSecret]
		source := SourceExplanation{ExternalSecret: s.ExternalSecret, Secret: s.Secret, Why: why, Ready: s.Ready, Reason: s.Reason,
			Message: s.Message, StatusCurrent: s.StatusCurrent, SecretWritten: s.SecretFound, Recorded: "not recorded"}
		source.WrittenAt = newestWrite([]gate.Source{s})
		switch recorded, ok := recordedDigests[s.Secret]; {
		case e.Key == nil:
			source.Recorded = "unknown without the digest key"
		case ok && recorded == gate.Digest(*e.Key, s):
			source.Recorded = "current"
		case ok:
			source.Recorded = "changed since recorded"
		}
		x.Sources = append(x.Sources, source)
	}
	x.Decision, err = e.decide(ctx, kind, obj, gathered)
	return x, err
}

// newestWrite is when the newest source's data was written, as the API
// server recorded it (to the second); nil when none is written.
func newestWrite(sources []gate.Source) *time.Time {
	var newest *time.Time
	for _, s := range sources {
		if !s.SecretFound {
			continue
		}
		// ChangedAt is the end of the recorded second: back to its start.
		at := s.ChangedAt.Add(-time.Second)
		if newest == nil || at.After(*newest) {
			newest = &at
		}
	}
	return newest
}

// decide asks the gate, with what the workload recorded, and then the waves
// of the rotations a restart would be for.
func (e *explainer) decide(ctx context.Context, kind workload.Kind, obj client.Object, gathered restart.Gathered) (Verdict, error) {
	sources := gathered.Sources
	if len(sources) == 0 {
		return Verdict{Verdict: "not a consumer", Reason: gate.ReasonNoSources, Message: "it follows no ExternalSecret: nothing restarts it"}, nil
	}
	if e.Key == nil {
		return Verdict{Verdict: "unknown", Message: "the digest key cannot be read (--digest-key-secret), so what the workload recorded cannot be compared"}, nil
	}
	own := obj.GetAnnotations()
	decision := gate.Gate(gate.Input{
		Now: e.Now, RecordedHash: own[annotations.AnnotationSourceHash], Sources: sources,
		Recorded: annotations.ParseSourceDigests(own[annotations.AnnotationSourceDigests]),
		Key:      *e.Key, RecordedKeyID: own[annotations.AnnotationDigestKey],
		Settle: e.Options.Settle, MaxWait: e.Options.MaxGateWait,
	})
	v := Verdict{Reason: decision.Reason, Message: decision.Message, Blocking: decision.Blocking}
	if decision.Action == gate.ActionWait || decision.Action == gate.ActionHold || decision.Action == gate.ActionTimedOut || decision.Action == gate.ActionRestart {
		v.Since = newestWrite(sources)
	}
	switch decision.Action {
	case gate.ActionNone:
		v.Verdict = "up to date"
	case gate.ActionAdopt:
		v.Verdict = "adopt"
		v.Message += " (recorded without a restart)"
	case gate.ActionWait:
		v.Verdict = "wait"
	case gate.ActionHold:
		v.Verdict = "hold"
	case gate.ActionTimedOut:
		v.Verdict = "timed out"
	case gate.ActionRestart:
		v.Verdict = "restart"
		mode, _ := annotations.ParseWaveMode(e.Options.Waves)
		check, ok, err := e.gatherer(kind).Waves(ctx, e.Kinds, mode, obj, decision.Rotated, gathered.Selected, sources)
		if err != nil {
			return v, err
		}
		if !ok {
			v.Verdict, v.Reason, v.Message, v.Blocking = "wait", waves.ReasonWaiting, check.Verdict.Message, check.ExternalSecret.Name
			if check.Verdict.Halted {
				v.Verdict, v.Reason = "hold", waves.ReasonHalted
				v.Message += fmt.Sprintf("; released by a new rotation, or by %s=%s on the ExternalSecret", annotations.AnnotationResume, check.TraceID)
			}
			break
		}
		fallback, _ := window.Parse(e.Options.RestartWindow) // validated
		if check := restart.CheckWindow(e.Now, obj, decision.Rotated, gathered.Selected, fallback); !check.Open {
			v.Verdict, v.Reason, v.Message = "wait", restart.ReasonOutsideWindow, check.Message()
			next := check.Next
			v.Until = &next
		}
	}
	if v.Message == "" {
		v.Message = v.Reason
	}
	return v, nil
}

func (e *explainer) externalSecret(ctx context.Context, ref objectRef) (*ExternalSecretExplanation, error) {
	es := &esv1.ExternalSecret{}
	if err := e.Client.Get(ctx, ref.NamespacedName, es); err != nil {
		return nil, fmt.Errorf("reading ExternalSecret %s: %w", ref.NamespacedName, err)
	}
	x := &ExternalSecretExplanation{ExternalSecret: es.Namespace + "/" + es.Name, Secret: eso.TargetSecret(es),
		Rollout: es.Annotations[annotations.AnnotationRollout], Restarts: []WorkloadVerdict{}}
	x.Ready, x.Reason, x.Message = eso.ReadyState(es)
	policy, err := annotations.ParseRolloutPolicy(x.Rollout)
	if err != nil {
		x.Problems = append(x.Problems, fmt.Sprintf("%s: %v (taken as off)", annotations.AnnotationRollout, err))
	}
	fallback, _ := annotations.ParseWaveMode(e.Options.Waves)
	x.Waves = string(restart.WaveMode(es, fallback))
	if value, ok := es.Annotations[annotations.AnnotationWaves]; ok {
		if _, err := annotations.ParseWaveMode(value); err != nil {
			x.Problems = append(x.Problems, fmt.Sprintf("%s: %v (taken as --waves, %s)", annotations.AnnotationWaves, err, fallback))
		}
	}
	fallbackWindow, _ := window.Parse(e.Options.RestartWindow) // validated
	x.RestartWindow = fallbackWindow.String() + " (--restart-window)"
	if value, ok := es.Annotations[annotations.AnnotationRestartWindow]; ok {
		if own, err := window.Parse(value); err != nil {
			x.Problems = append(x.Problems, fmt.Sprintf("%s: %v (taken as --restart-window, %s)", annotations.AnnotationRestartWindow, err, fallbackWindow))
		} else if !own.IsAlways() {
			x.RestartWindow = own.String()
		}
	}
	candidate := optin.Candidate{ExternalSecret: es, Policy: policy}
	for _, kind := range e.Kinds {
		list := kind.NewList()
		if err := e.Client.List(ctx, list, client.InNamespace(es.Namespace)); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kind.Kind(), err)
		}
		for _, obj := range kind.Items(list) {
			name := strings.ToLower(kind.Kind()) + "/" + obj.GetName()
			own := obj.GetAnnotations()
			auto, _ := annotations.ParseBool(own[annotations.AnnotationAuto])
			follow, _ := annotations.ParseNameList(own[annotations.AnnotationExternalSecrets])
			used := kind.SecretsUsed(obj)
			selected, why := optin.Why(kind.Kind(), obj.GetName(), used, optin.OptIn{Auto: auto, Follow: follow}, e.Options.AutoAll, candidate)
			linked := slices.Contains(used, x.Secret) || slices.Contains(follow, es.Name) || policy.Includes(kind.Kind(), obj.GetName())
			if ignore, err := annotations.ParseBool(own[annotations.AnnotationIgnore]); linked && (ignore || err != nil) {
				x.DoesNotRestart = append(x.DoesNotRestart, Reason{Name: name, Why: "the workload has " + annotations.AnnotationIgnore})
				continue
			}
			switch {
			case selected:
				w, err := e.workload(ctx, kind, obj)
				if err != nil {
					return nil, err
				}
				x.Restarts = append(x.Restarts, WorkloadVerdict{Workload: name, Why: why, Decision: w.Decision})
			case linked:
				x.DoesNotRestart = append(x.DoesNotRestart, Reason{Name: name, Why: why})
			}
		}
	}
	return x, nil
}

// printWorkloadExplanation writes x for a reader.
func printWorkloadExplanation(w io.Writer, x *WorkloadExplanation) error {
	fmt.Fprintf(w, "Workload %s\n\n", x.Workload)
	if len(x.Sources) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tSECRET\tESO STATUS\tDATA WRITTEN\tRECORDED\tWHY")
		for _, s := range x.Sources {
			status := "not Ready"
			if s.Ready {
				status = "Ready"
			}
			if s.Reason != "" {
				status += " (" + s.Reason + ")"
			}
			if !s.StatusCurrent {
				status += ", not yet confirming the latest write"
			}
			written := "not written"
			if s.WrittenAt != nil {
				written = s.WrittenAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ExternalSecret, s.Secret, status, written, s.Recorded, s.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	printReasons(w, "Not sources:", x.NotSources)
	if len(x.Unmanaged) > 0 {
		fmt.Fprintf(w, "Secrets it uses that no ExternalSecret writes: %s\n", strings.Join(x.Unmanaged, ", "))
	}
	for _, p := range x.Problems {
		fmt.Fprintln(w, "Problem:", p)
	}
	if x.LastRestart != nil {
		fmt.Fprintf(w, "Last restarted by eso-bridge: %s\n", x.LastRestart.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "Decision now: %s\n", formatVerdict(x.Decision))
	return nil
}

func printExternalSecretExplanation(w io.Writer, x *ExternalSecretExplanation) error {
	status := "not Ready"
	if x.Ready {
		status = "Ready"
	}
	if x.Reason != "" {
		status += " (" + x.Reason + ")"
	}
	fmt.Fprintf(w, "ExternalSecret %s writes Secret %s; ESO status: %s\n", x.ExternalSecret, x.Secret, status)
	if x.Rollout != "" {
		fmt.Fprintf(w, "%s: %s\n", annotations.AnnotationRollout, x.Rollout)
	}
	fmt.Fprintf(w, "Waves: %s\n", x.Waves)
	fmt.Fprintf(w, "Restart window: %s\n", x.RestartWindow)
	for _, p := range x.Problems {
		fmt.Fprintln(w, "Problem:", p)
	}
	fmt.Fprintln(w)
	if len(x.Restarts) == 0 {
		fmt.Fprintln(w, "A change of it restarts nothing.")
	} else {
		fmt.Fprintln(w, "A change of it restarts:")
		for _, r := range x.Restarts {
			fmt.Fprintf(w, "  - %s: %s\n    decision now: %s\n", r.Workload, r.Why, formatVerdict(r.Decision))
		}
	}
	printReasons(w, "It does not restart:", x.DoesNotRestart)
	return nil
}

func printReasons(w io.Writer, title string, reasons []Reason) {
	if len(reasons) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, r := range reasons {
		fmt.Fprintf(w, "  - %s: %s\n", r.Name, r.Why)
	}
}

func formatVerdict(v Verdict) string {
	text := v.Verdict
	if v.Message != "" {
		text += " — " + v.Message
	}
	if v.Since != nil {
		text += fmt.Sprintf(" (since %s)", v.Since.UTC().Format(time.RFC3339))
	}
	return text
}
