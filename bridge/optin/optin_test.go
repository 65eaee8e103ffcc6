package optin

import (
	"reflect"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

func TestSelectSources(t *testing.T) {
	es := func(name string, policy annotations.RolloutPolicy) Candidate {
		return Candidate{ExternalSecret: &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: name}}, Policy: policy}
	}
	candidates := []Candidate{
		es("plain", annotations.RolloutPolicy{}),
		es("auto", annotations.RolloutPolicy{Auto: true}),
		es("names-api", annotations.RolloutPolicy{Workloads: []annotations.WorkloadRef{{Kind: "deployment", Name: "api"}}}),
		es("names-db", annotations.RolloutPolicy{Workloads: []annotations.WorkloadRef{{Kind: "statefulset", Name: "api"}}}),
	}
	allUsed := []string{"plain", "auto", "names-api", "names-db"}
	tests := map[string]struct {
		used        []string
		optIn       OptIn
		autoAll     bool
		want        []string
		wantMissing []string
	}{
		"without opt-in only auto ExternalSecrets and lists naming the workload count": {
			used: allUsed, want: []string{"auto", "names-api"},
		},
		"an auto ExternalSecret whose Secret is not used does not count": {
			used: nil, want: []string{"names-api"},
		},
		"a workload's auto takes every used source": {
			used: []string{"plain", "auto"}, optIn: OptIn{Auto: true}, want: []string{"auto", "names-api", "plain"},
		},
		"--auto-all takes every used source": {
			used: allUsed, autoAll: true, want: []string{"auto", "names-api", "names-db", "plain"},
		},
		"a followed ExternalSecret counts without its Secret being used, and a missing one is reported": {
			used: nil, optIn: OptIn{Follow: []string{"plain", "gone"}}, want: []string{"names-api", "plain"}, wantMissing: []string{"gone"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			selected, missing := SelectSources("Deployment", "api", tt.used, tt.optIn, tt.autoAll, candidates)
			var got []string
			for _, s := range selected {
				got = append(got, s.Name)
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(missing, tt.wantMissing) {
				t.Errorf("SelectSources = %v, missing %v; want %v, missing %v", got, missing, tt.want, tt.wantMissing)
			}
		})
	}
}

func TestWhySaysWhichReferenceOrAnnotationMadeASource(t *testing.T) {
	db := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db"}}
	tests := map[string]struct {
		used     []string
		optIn    OptIn
		autoAll  bool
		policy   annotations.RolloutPolicy
		selected bool
		want     string
	}{
		"--auto-all": {used: []string{"db"}, autoAll: true, selected: true, want: "the pod template uses Secret db, and --auto-all is on"},
		"the workload's auto": {used: []string{"db"}, optIn: OptIn{Auto: true}, selected: true,
			want: "the pod template uses Secret db, and the workload has eso-bridge.io/auto: true"},
		"the ExternalSecret's auto": {used: []string{"db"}, policy: annotations.RolloutPolicy{Auto: true}, selected: true,
			want: "the pod template uses Secret db, and the ExternalSecret has eso-bridge.io/rollout: auto"},
		"followed by name": {optIn: OptIn{Follow: []string{"db"}}, selected: true, want: "the workload's eso-bridge.io/externalsecrets names it"},
		"named by the ExternalSecret": {policy: annotations.RolloutPolicy{Workloads: []annotations.WorkloadRef{{Kind: "deployment", Name: "api"}}}, selected: true,
			want: "the ExternalSecret's eso-bridge.io/rollout names deployment/api"},
		"used without an opt-in": {used: []string{"db"}, selected: false,
			want: "the pod template uses Secret db, but nothing opts it in (eso-bridge.io/auto on the workload, eso-bridge.io/rollout on the ExternalSecret, or --auto-all)"},
		"neither": {selected: false, want: "the pod template does not use Secret db, and neither annotation names the other"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			selected, why := Why("Deployment", "api", tt.used, tt.optIn, tt.autoAll, Candidate{ExternalSecret: db, Policy: tt.policy})
			if selected != tt.selected || why != tt.want {
				t.Errorf("Why = %v, %q; want %v, %q", selected, why, tt.selected, tt.want)
			}
		})
	}
}
