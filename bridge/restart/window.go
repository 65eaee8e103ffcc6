package restart

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/window"
)

// ReasonOutsideWindow is the Event reason of a restart waiting for its
// restart window to open.
const ReasonOutsideWindow = "OutsideRestartWindow"

// WindowCheck is where a restart stands against its restart windows.
type WindowCheck struct {
	// Open is true when the restart may happen now.
	Open bool
	// Next is when the windows open together: now when Open.
	Next time.Time
	// Schedules are the windows that apply, all of which must be open;
	// From says whose they are.
	Schedules []window.Schedule
	From      string
	// Conflict, when set, says which ExternalSecrets' windows never open at
	// the same time: the fallback applied instead.
	Conflict string
}

// Message says in a sentence why a restart waits.
func (c WindowCheck) Message() string {
	specs := make([]string, 0, len(c.Schedules))
	for _, s := range c.Schedules {
		specs = append(specs, s.String())
	}
	next := c.Next
	if len(c.Schedules) > 0 && len(c.Schedules[0].Windows) > 0 {
		next = next.In(c.Schedules[0].Windows[0].Zone)
	}
	return fmt.Sprintf("outside its restart window (%s, %s): the restart waits until %s",
		strings.Join(specs, " and "), c.From, next.Format(time.RFC3339))
}

// CheckWindow decides whether obj may restart at now for a rotation of the
// ExternalSecrets named rotated (all of selected when none is named). The
// workload's own eso-bridge.io/restart-window comes first; else the windows
// of the rotated ExternalSecrets that have one, which must all be open at
// once; else fallback, the --restart-window flag. An annotation that does
// not parse counts as absent (the Gatherer and the ExternalSecret checker
// report it), and so do ExternalSecret windows that never open together.
func CheckWindow(now time.Time, obj ctrl.Object, rotated []string, selected []*esv1.ExternalSecret, fallback window.Schedule) WindowCheck {
	check := WindowCheck{Schedules: []window.Schedule{fallback}, From: "the controller's --restart-window"}
	if own, err := window.Parse(obj.GetAnnotations()[annotations.AnnotationRestartWindow]); err == nil && !own.IsAlways() {
		check.Schedules, check.From = []window.Schedule{own}, "the workload's "+annotations.AnnotationRestartWindow
	} else {
		var schedules []window.Schedule
		var names []string
		for _, es := range selected {
			if len(rotated) > 0 && !slices.Contains(rotated, es.Name) {
				continue
			}
			if s, err := window.Parse(es.Annotations[annotations.AnnotationRestartWindow]); err == nil && !s.IsAlways() {
				schedules, names = append(schedules, s), append(names, es.Name)
			}
		}
		if len(schedules) > 0 {
			if _, ok := window.NextOpen(now, schedules...); ok {
				check.Schedules, check.From = schedules, "ExternalSecret "+strings.Join(names, ", ")+"'s "+annotations.AnnotationRestartWindow
			} else {
				check.Conflict = fmt.Sprintf("the restart windows of ExternalSecrets %s never open at the same time; %s applies instead",
					strings.Join(names, ", "), check.From)
			}
		}
	}
	// A schedule that parsed opens some time: Parse refuses those that never do.
	check.Next, _ = window.NextOpen(now, check.Schedules...)
	check.Open = !check.Next.After(now)
	return check
}

// waitForWindow keeps back a restart outside its restart window until the
// window opens; held is true while it is closed.
func (r *Reconciler) waitForWindow(ctx context.Context, obj ctrl.Object, rotated []string, gathered Gathered) (reconcile.Result, bool) {
	now := r.Clock.Now()
	check := CheckWindow(now, obj, rotated, gathered.Selected, r.Options.RestartWindow)
	if check.Conflict != "" {
		r.Metrics.InvalidAnnotations.WithLabelValues(r.Kind.Kind()).Inc()
		r.Recorder.Warning(obj, nil, events.ReasonInvalidAnnotation, events.ValidateAction(annotations.AnnotationRestartWindow), check.Conflict)
	}
	if check.Open {
		return reconcile.Result{}, false
	}
	message := check.Message()
	log.FromContext(ctx).V(levelDebug).Info("outside the restart window", "message", message)
	r.Recorder.Normal(obj, r.related(ctx, obj.GetNamespace(), "", gathered.Sources), ReasonOutsideWindow, events.ActionGate, message)
	// Nothing but the clock opens a window; a change to the annotations
	// wakes the workload sooner.
	return reconcile.Result{RequeueAfter: max(check.Next.Sub(now), 100*time.Millisecond)}, true
}
