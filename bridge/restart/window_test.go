package restart

import (
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/window"
)

func TestCheckWindowTakesTheWorkloadsThenTheExternalSecretsThenTheFlag(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) // a Wednesday, noon
	withWindow := func(spec string) map[string]string {
		if spec == "" {
			return nil
		}
		return map[string]string{annotations.AnnotationRestartWindow: spec}
	}
	es := func(name, spec string) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: withWindow(spec)}}
	}
	flag, _ := window.Parse("* 20:00-22:00 UTC")
	for _, c := range []struct {
		name     string
		own      string
		selected []*esv1.ExternalSecret
		rotated  []string
		open     bool
		next     string // HH:MM, the same day
		from     string
		conflict bool
	}{
		{name: "the flag alone", open: false, next: "20:00", from: "--restart-window"},
		{name: "an ExternalSecret's window before the flag", selected: []*esv1.ExternalSecret{es("db", "* 11:00-13:00 UTC")}, open: true, next: "12:00", from: "ExternalSecret db"},
		{name: "the workload's before its ExternalSecret's", own: "* 14:00-15:00 UTC", selected: []*esv1.ExternalSecret{es("db", "* 11:00-13:00 UTC")}, next: "14:00", from: "the workload's"},
		{name: "a bad workload window counts as absent", own: "lunchtime", selected: []*esv1.ExternalSecret{es("db", "* 11:00-13:00 UTC")}, open: true, next: "12:00", from: "ExternalSecret db"},
		{name: "only the rotated ExternalSecrets' windows", selected: []*esv1.ExternalSecret{es("db", "* 11:00-13:00 UTC"), es("cache", "* 15:00-16:00 UTC")}, rotated: []string{"cache"}, next: "15:00", from: "ExternalSecret cache"},
		{name: "two windows, all open at once", selected: []*esv1.ExternalSecret{es("db", "* 11:00-16:00 UTC"), es("cache", "* 15:00-18:00 UTC")}, next: "15:00", from: "ExternalSecret db, cache"},
		{name: "windows that never meet give way to the flag", selected: []*esv1.ExternalSecret{es("db", "* 11:00-13:00 UTC"), es("cache", "* 15:00-16:00 UTC")}, next: "20:00", from: "--restart-window", conflict: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Annotations: withWindow(c.own)}}
			check := CheckWindow(now, obj, c.rotated, c.selected, flag)
			next, _ := time.Parse("15:04", c.next)
			want := time.Date(2026, 12, 2, next.Hour(), next.Minute(), 0, 0, time.UTC)
			if check.Open != c.open || !check.Next.Equal(want) || !strings.Contains(check.From, c.from) || (check.Conflict != "") != c.conflict {
				t.Errorf("CheckWindow = open %v, next %s, from %q, conflict %q; want open %v, next %s, from %q, conflict %v",
					check.Open, check.Next.Format(time.RFC3339), check.From, check.Conflict, c.open, want.Format(time.RFC3339), c.from, c.conflict)
			}
			if !check.Open && !strings.Contains(check.Message(), "waits until "+want.Format(time.RFC3339)) {
				t.Errorf("Message() = %q, want the time it opens", check.Message())
			}
		})
	}
}
