package eso

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"

	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
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

// A status confirms a Secret write only when it was written after it; the
// order of resource versions tells, where the API server's whole seconds
// cannot.
func TestStatusWrittenAfter(t *testing.T) {
	tests := map[string]struct {
		es, secret   string
		after, exact bool
	}{
		"a status written after the Secret confirms it":      {es: "1043", secret: "1041", after: true, exact: true},
		"a status from before the write does not":            {es: "1040", secret: "1041", after: false, exact: true},
		"numbers, not strings, are compared":                 {es: "1000", secret: "999", after: true, exact: true},
		"a resource version that is not a number is inexact": {es: "abc", secret: "1041", exact: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{ResourceVersion: tt.es}}
			after, exact := StatusWrittenAfter(es, tt.secret)
			if after != tt.after || exact != tt.exact {
				t.Errorf("StatusWrittenAfter(%s, %s) = %v, %v; want %v, %v", tt.es, tt.secret, after, exact, tt.after, tt.exact)
			}
		})
	}
}

func TestNoRefresh(t *testing.T) {
	interval := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	tests := map[string]struct {
		spec esv1.ExternalSecretSpec
		want string
	}{
		"an interval refreshes on a change":          {spec: esv1.ExternalSecretSpec{RefreshInterval: interval(time.Hour)}, want: ""},
		"no interval set is ESO's default, 1h":       {spec: esv1.ExternalSecretSpec{}, want: ""},
		"an interval of 0 never refreshes again":     {spec: esv1.ExternalSecretSpec{RefreshInterval: interval(0)}, want: "refreshInterval is 0"},
		"CreatedOnce syncs once":                     {spec: esv1.ExternalSecretSpec{RefreshPolicy: esv1.RefreshPolicyCreatedOnce, RefreshInterval: interval(time.Hour)}, want: "refreshPolicy is CreatedOnce"},
		"OnChange refreshes on a change, interval 0": {spec: esv1.ExternalSecretSpec{RefreshPolicy: esv1.RefreshPolicyOnChange, RefreshInterval: interval(0)}, want: ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := NoRefresh(&esv1.ExternalSecret{Spec: tt.spec}); got != tt.want {
				t.Errorf("NoRefresh = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGeneratedByNamesOnlyAClusterExternalSecretController(t *testing.T) {
	owned := func(refs ...metav1.OwnerReference) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{OwnerReferences: refs}}
	}
	yes, no := ptr.To(true), ptr.To(false)
	for _, tt := range []struct {
		name string
		es   *esv1.ExternalSecret
		want string
	}{
		{"no owner", owned(), ""},
		{"ClusterExternalSecret controller", owned(metav1.OwnerReference{APIVersion: "external-secrets.io/v1", Kind: "ClusterExternalSecret", Name: "db", Controller: yes}), "db"},
		{"older API version", owned(metav1.OwnerReference{APIVersion: "external-secrets.io/v1beta1", Kind: "ClusterExternalSecret", Name: "db", Controller: yes}), "db"},
		{"owner but not controller", owned(metav1.OwnerReference{APIVersion: "external-secrets.io/v1", Kind: "ClusterExternalSecret", Name: "db", Controller: no}), ""},
		{"same kind, another group", owned(metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "ClusterExternalSecret", Name: "db", Controller: yes}), ""},
		{"another controller", owned(metav1.OwnerReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "db", Controller: yes}), ""},
	} {
		if got := GeneratedBy(tt.es); got != tt.want {
			t.Errorf("%s: GeneratedBy = %q, want %q", tt.name, got, tt.want)
		}
	}
}
