package eso

import (
	"fmt"
	"math/rand/v2"
	"testing"

	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceVersion must be ESO's own formula to the character: the gate reads
// "ESO synced this ExternalSecret as it is now" from their equality.
func TestResourceVersionIsESOsOwnFormula(t *testing.T) {
	fixed := map[string]metav1.ObjectMeta{
		"no labels or annotations":  {},
		"empty maps, not nil":       {Labels: map[string]string{}, Annotations: map[string]string{}},
		"a generation":              {Generation: 7},
		"eso-bridge's trigger":      {Generation: 2, Annotations: map[string]string{"eso-bridge.io/vault-versions": "db=3f2a", "eso-bridge.io/traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		"characters fmt quotes":     {Labels: map[string]string{"a b": "c:d", "x]": "{y}"}, Annotations: map[string]string{"": "", "map[": "]"}},
		"unicode and control bytes": {Annotations: map[string]string{"ü": "\x00\n\t", "日本": "語"}},
	}
	for name, meta := range fixed {
		if got, want := ResourceVersion(meta), ctrlutil.GetResourceVersion(meta); got != want {
			t.Errorf("%s: ResourceVersion = %q, ESO's = %q", name, got, want)
		}
	}
	random := rand.New(rand.NewPCG(1, 2))
	text := func() string {
		b := make([]rune, random.IntN(12))
		for i := range b {
			b[i] = rune(random.IntN(0x3000))
		}
		return string(b)
	}
	for i := range 2000 {
		meta := metav1.ObjectMeta{Generation: random.Int64N(1 << 40)}
		if n := random.IntN(6); n > 0 {
			meta.Labels = map[string]string{}
			for range n {
				meta.Labels[text()] = text()
			}
		}
		if n := random.IntN(6); n > 0 {
			meta.Annotations = map[string]string{}
			for range n {
				meta.Annotations[text()] = text()
			}
		}
		if got, want := ResourceVersion(meta), ctrlutil.GetResourceVersion(meta); got != want {
			t.Fatalf("input %d (%s): ResourceVersion = %q, ESO's = %q", i, fmt.Sprintf("%+v", meta), got, want)
		}
	}
}
