package restart

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/fanout"
	"github.com/eso-bridge/eso-bridge/bridge/metrics"
	"github.com/eso-bridge/eso-bridge/bridge/scope"
	"github.com/eso-bridge/eso-bridge/bridge/window"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// ExternalSecretChecker reports, on the ExternalSecret, a rollout annotation
// that does not parse, names another namespace or names a missing workload,
// and a waves or resume annotation that does not parse. It changes nothing:
// a bad annotation is otherwise ignored (a bad waves annotation leaves the
// --waves default in force).
type ExternalSecretChecker struct {
	Client   client.Client
	Kinds    []workload.Kind
	Scope    *scope.Scope
	Recorder events.Recorder
	Metrics  *metrics.Metrics
	// ExternalSecrets are the cache's changes of ExternalSecrets, which the
	// controllers share (package fanout).
	ExternalSecrets *fanout.Changes
}

var _ reconcile.Reconciler = &ExternalSecretChecker{}

// SetupWithManager runs the checker on the ExternalSecrets that may have
// something to report (checkedAnnotationChanged).
func (c *ExternalSecretChecker) SetupWithManager(mgr ctrl.Manager) error {
	if c.ExternalSecrets == nil {
		return errors.New("the ExternalSecret checker needs the shared changes of ExternalSecrets")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("externalsecret-checker").
		WatchesRawSource(c.ExternalSecrets.For(&handler.EnqueueRequestForObject{}, checkedAnnotationChanged)).
		Complete(c)
}

// parsedAnnotations are the annotations the checker parses, besides the
// rollout annotation (checkRollout): each with its parser.
var parsedAnnotations = map[string]func(string) error{
	annotations.AnnotationWaves:         func(v string) error { _, err := annotations.ParseWaveMode(v); return err },
	annotations.AnnotationResume:        func(v string) error { _, err := annotations.ParseResume(v); return err },
	annotations.AnnotationRestartWindow: func(v string) error { _, err := window.Parse(v); return err },
}

// checkedAnnotations are the annotations the checker reports on.
var checkedAnnotations = append(slices.Collect(maps.Keys(parsedAnnotations)), annotations.AnnotationRollout)

// checkedAnnotationChanged passes an ExternalSecret that may have something
// to report (mayHaveToReport), when it is first seen or one of the
// annotations the checker reports on appears or changes. The others — most
// of a fleet, whose rollout annotation says "auto", and eso-bridge's own
// writes of its trace annotations — have nothing to report: at a start they
// would fill the checker's queue with every ExternalSecret of the cluster (a
// queue keeps its largest size), and each write would check again what did
// not change. A checked annotation removed leaves nothing to report either.
var checkedAnnotationChanged = predicate.Funcs{
	CreateFunc:  func(e event.CreateEvent) bool { return mayHaveToReport(e.Object.GetAnnotations()) },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(e event.GenericEvent) bool { return mayHaveToReport(e.Object.GetAnnotations()) },
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, after := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
		for _, key := range checkedAnnotations {
			value, has := after[key]
			if old, had := before[key]; has && (!had || old != value) {
				return mayHaveToReport(after)
			}
		}
		return false
	},
}

// mayHaveToReport says whether annots hold an annotation the checker
// would report on: one that does not parse, or a rollout annotation naming
// workloads, whose existence only the reconcile can look up.
func mayHaveToReport(annots map[string]string) bool {
	for key, parse := range parsedAnnotations {
		if value, ok := annots[key]; ok && parse(value) != nil {
			return true
		}
	}
	value, ok := annots[annotations.AnnotationRollout]
	if !ok {
		return false
	}
	policy, err := annotations.ParseRolloutPolicy(value)
	return err != nil || len(policy.Workloads) > 0
}

// Reconcile checks one ExternalSecret's rollout annotation.
func (c *ExternalSecretChecker) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	es := &esv1.ExternalSecret{}
	if err := c.Client.Get(ctx, req.NamespacedName, es); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	// Out-of-scope namespaces belong to another installation, if any.
	if allowed, err := c.Scope.Allows(ctx, c.Client, req.Namespace); err != nil || !allowed {
		return reconcile.Result{}, err
	}
	var bad error
	for annotation, parse := range parsedAnnotations {
		if value, ok := es.Annotations[annotation]; ok {
			if err := parse(value); err != nil {
				c.Metrics.InvalidAnnotations.WithLabelValues("ExternalSecret").Inc()
				c.Recorder.Warning(es, nil, events.ReasonInvalidAnnotation, events.ValidateAction(annotation), fmt.Sprintf("annotation %s ignored: %v", annotation, err))
				bad = err
			}
		}
	}
	if value, ok := es.Annotations[annotations.AnnotationRollout]; ok {
		if err := c.checkRollout(ctx, es, value); err != nil {
			return reconcile.Result{}, err
		}
	}
	if bad != nil {
		// A user's bad input: retrying cannot fix it, the next edit will.
		return reconcile.Result{}, reconcile.TerminalError(bad)
	}
	return reconcile.Result{}, nil
}

// checkRollout reports what is wrong with es's rollout annotation, value.
func (c *ExternalSecretChecker) checkRollout(ctx context.Context, es *esv1.ExternalSecret, value string) error {
	action := events.ValidateAction(annotations.AnnotationRollout)
	policy, err := annotations.ParseRolloutPolicy(value)
	if err != nil {
		c.Metrics.InvalidAnnotations.WithLabelValues("ExternalSecret").Inc()
		c.Recorder.Warning(es, nil, events.ReasonInvalidAnnotation, action, fmt.Sprintf("annotation %s ignored: %v", annotations.AnnotationRollout, err))
		// A user's bad input: retrying cannot fix it, the next edit will.
		return reconcile.TerminalError(err)
	}
	// One Warning per reason names every workload concerned: Events about
	// one object with one reason fold into the first.
	var unserved, missing []string
	for _, ref := range policy.Workloads {
		kind := c.kind(ref.Kind)
		if kind == nil {
			unserved = append(unserved, ref.String())
			continue
		}
		err := c.Client.Get(ctx, types.NamespacedName{Namespace: es.Namespace, Name: ref.Name}, kind.New())
		if apierrors.IsNotFound(err) {
			missing = append(missing, ref.String())
		} else if err != nil {
			return err
		}
	}
	if len(unserved) > 0 {
		c.Recorder.Warning(es, nil, events.ReasonInvalidAnnotation, action,
			fmt.Sprintf("annotation %s names %s, of a kind this cluster does not serve", annotations.AnnotationRollout, strings.Join(unserved, ", ")))
	}
	if len(missing) > 0 {
		c.Metrics.InvalidAnnotations.WithLabelValues("ExternalSecret").Inc()
		c.Recorder.Warning(es, nil, events.ReasonMissingReference, action,
			fmt.Sprintf("annotation %s names %s, which do(es) not exist in namespace %s", annotations.AnnotationRollout, strings.Join(missing, ", "), es.Namespace))
	}
	return nil
}

func (c *ExternalSecretChecker) kind(name string) workload.Kind {
	for _, k := range c.Kinds {
		if strings.ToLower(k.Kind()) == name {
			return k
		}
	}
	return nil
}
