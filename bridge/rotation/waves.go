package rotation

import (
	"context"
	"fmt"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/gate"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/bridge/waves"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// waveState is where a rotation in waves stands: its consumers as the
// restart controller judges them.
type waveState struct {
	mode    annotations.WaveMode
	members []waves.Member
	resumed bool
}

// waveState reads the waves of r, the rotation of es; nil when es restarts
// its consumers all at once, or without the digest key, which judging them
// needs.
func (f *lookup) waveState(ctx context.Context, r *Rotation, es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) (*waveState, error) {
	if es == nil || secret == nil || f.Key == nil {
		return nil, nil
	}
	mode := restart.WaveMode(es, f.Waves)
	if mode == annotations.WavesOff {
		return nil, nil
	}
	g := restart.Gatherer{Reader: f.Client, AutoAll: f.AutoAll, Key: *f.Key, Indexed: f.Indexed}
	source := gate.Source{ExternalSecret: es.Name, Secret: eso.TargetSecret(es), DataHash: secret.Annotations[eso.DataHashAnnotation]}
	members, err := g.Members(ctx, f.Kinds, es, source)
	if err != nil {
		return nil, err
	}
	return &waveState{mode: mode, members: members, resumed: es.Annotations[annotations.AnnotationResume] == r.TraceID}, nil
}

// check says where a consumer not restarted for the rotation stands in its
// waves, and records on r a halt or a restart still to come. ok is false
// when it is no member of them (not a source's consumer, or current already).
func (w *waveState) check(r *Rotation, kind workload.Kind, obj client.Object) (waves.Verdict, bool) {
	if w == nil {
		return waves.Verdict{}, false
	}
	key := workload.Key(kind.Kind(), obj.GetName())
	for _, m := range w.members {
		if m.Key != key || m.Current {
			continue
		}
		v := waves.Check(w.mode, key, w.members, w.resumed)
		if v.Halted {
			r.Held = append(r.Held, key)
			if r.Failure == "" {
				r.Failure = v.Message
			}
			return v, true
		}
		// Waiting for its wave, or free to go and not restarted yet: the
		// rotation has a restart to come.
		r.restartsToCome++
		if v.Go {
			v.Message = fmt.Sprintf("to restart, in wave %d of %d", v.Wave, v.Waves)
		}
		return v, true
	}
	return waves.Verdict{}, false
}
