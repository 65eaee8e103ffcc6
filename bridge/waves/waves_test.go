package waves

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// member builds a Member with functional options.
func member(key string, opts ...func(*Member)) Member {
	m := Member{Key: key}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func wave(n int) func(*Member) { return func(m *Member) { m.Wave, m.Numbered = n, true } }
func current(m *Member)        { m.Current = true }
func rolling(m *Member)        { m.Current, m.Rolling = true, true }
func stalled(m *Member)        { m.Current, m.Stalled, m.Message = true, true, "progress deadline exceeded" }

func keys(waves [][]Member) [][]string {
	out := [][]string{}
	for _, w := range waves {
		var names []string
		for _, m := range w {
			names = append(names, m.Key)
		}
		out = append(out, names)
	}
	return out
}

func TestOrder(t *testing.T) {
	members := []Member{
		member("deployment/web"),
		member("statefulset/db", wave(2)),
		member("deployment/api", wave(1)),
		member("deployment/worker", wave(2)),
		member("daemonset/agent"),
	}
	tests := map[string]struct {
		mode annotations.WaveMode
		want [][]string
	}{
		"off is one wave": {
			annotations.WavesOff, [][]string{{"deployment/api", "deployment/worker", "statefulset/db", "daemonset/agent", "deployment/web"}},
		},
		"ordered groups by wave number and puts the unnumbered last": {
			annotations.WavesOrdered, [][]string{{"deployment/api"}, {"deployment/worker", "statefulset/db"}, {"daemonset/agent", "deployment/web"}},
		},
		"canary takes the lowest-numbered alone, then the rest": {
			annotations.WavesCanary, [][]string{{"deployment/api"}, {"deployment/worker", "statefulset/db", "daemonset/agent", "deployment/web"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := keys(Order(tt.mode, members)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Order = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("canary without numbers takes the first by kind and name", func(t *testing.T) {
		got := keys(Order(annotations.WavesCanary, []Member{member("deployment/b"), member("deployment/a"), member("cronjob/z")}))
		if want := [][]string{{"cronjob/z"}, {"deployment/a", "deployment/b"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("Order = %v, want %v", got, want)
		}
	})
}

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		mode    annotations.WaveMode
		self    string
		members []Member
		resumed bool
		// want is "go", "wait" or "halt"; blocking the keys that block.
		want     string
		blocking []string
		message  string
	}{
		"with waves off every member goes at once": {
			mode: annotations.WavesOff, self: "deployment/b",
			members: []Member{member("deployment/a"), member("deployment/b")},
			want:    "go",
		},
		"the first wave goes at once": {
			mode: annotations.WavesOrdered, self: "deployment/a",
			members: []Member{member("deployment/a", wave(1)), member("deployment/b", wave(2))},
			want:    "go",
		},
		"a member the rotation does not list goes at once": {
			mode: annotations.WavesOrdered, self: "deployment/new",
			members: []Member{member("deployment/a", wave(1))},
			want:    "go",
		},
		"the second wave waits while the first has not restarted": {
			mode: annotations.WavesOrdered, self: "deployment/b",
			members: []Member{member("deployment/a", wave(1)), member("deployment/b", wave(2))},
			want:    "wait", blocking: []string{"deployment/a"}, message: "wave 2 of 2 waits for deployment/a to restart",
		},
		"the second wave waits while the first is rolling out": {
			mode: annotations.WavesOrdered, self: "deployment/b",
			members: []Member{member("deployment/a", wave(1), rolling), member("deployment/b", wave(2))},
			want:    "wait", blocking: []string{"deployment/a"}, message: "deployment/a to finish rolling out",
		},
		"the second wave goes once every member of the first rolled out": {
			mode: annotations.WavesOrdered, self: "deployment/c",
			members: []Member{member("deployment/a", wave(1), current), member("deployment/b", wave(1), current), member("deployment/c")},
			want:    "go",
		},
		"the third wave waits for the second, which waits for the first": {
			mode: annotations.WavesOrdered, self: "deployment/c",
			members: []Member{member("deployment/a", wave(1), current), member("deployment/b", wave(2)), member("deployment/c", wave(3))},
			want:    "wait", blocking: []string{"deployment/b"},
		},
		"a stalled rollout in an earlier wave halts the rest": {
			mode: annotations.WavesCanary, self: "deployment/b",
			members: []Member{member("deployment/a", wave(0), stalled), member("deployment/b"), member("deployment/c")},
			want:    "halt", blocking: []string{"deployment/a"}, message: "wave 2 of 2 held: the rollout of deployment/a (progress deadline exceeded) stalled",
		},
		"a halt outweighs a member still rolling beside the stalled one": {
			mode: annotations.WavesOrdered, self: "deployment/c",
			members: []Member{member("deployment/a", wave(1), stalled), member("deployment/b", wave(1), rolling), member("deployment/c")},
			want:    "halt", blocking: []string{"deployment/a"},
		},
		"a resume lets the waves after a stalled rollout go": {
			mode: annotations.WavesCanary, self: "deployment/b", resumed: true,
			members: []Member{member("deployment/a", stalled), member("deployment/b")},
			want:    "go",
		},
		"a stalled rollout of an older rotation holds nothing: the member must restart for this one first": {
			mode: annotations.WavesCanary, self: "deployment/b",
			members: []Member{member("deployment/a", func(m *Member) { m.Stalled = true }), member("deployment/b")},
			want:    "wait", blocking: []string{"deployment/a"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := Check(tt.mode, tt.self, tt.members, tt.resumed)
			got := "wait"
			switch {
			case v.Go:
				got = "go"
			case v.Halted:
				got = "halt"
			}
			var blocking []string
			for _, m := range v.Blocking {
				blocking = append(blocking, m.Key)
			}
			if got != tt.want || !reflect.DeepEqual(blocking, tt.blocking) || !strings.Contains(v.Message, tt.message) {
				t.Errorf("Check = %s, blocking %v, %q; want %s, blocking %v, a message with %q", got, blocking, v.Message, tt.want, tt.blocking, tt.message)
			}
		})
	}
}
