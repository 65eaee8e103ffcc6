package bridge

import (
	"reflect"
	"strings"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseRolloutPolicy(t *testing.T) {
	tests := map[string]struct {
		value   string
		want    RolloutPolicy
		wantErr string
	}{
		"absent is off":                           {value: "", want: RolloutPolicy{}},
		"off is off":                              {value: "OFF", want: RolloutPolicy{}},
		"auto restarts every consumer":            {value: " auto ", want: RolloutPolicy{Auto: true}},
		"a list names workloads by kind and name": {value: "deployment/api, sts/db", want: RolloutPolicy{Workloads: []WorkloadRef{{"deployment", "api"}, {"statefulset", "db"}}}},
		"another namespace is refused":            {value: "prod/deployment/api", wantErr: "only workloads in the ExternalSecret's own namespace"},
		"a bare word is not kind/name":            {value: "deployment", wantErr: "is not kind/name"},
		"an unknown kind is refused":              {value: "pod/api", wantErr: `kind "pod"`},
		"an invalid name is refused":              {value: "deployment/API_1", wantErr: "not a valid name"},
		"a list of only separators names nothing": {value: " , ", wantErr: "names no workload"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseRolloutPolicy(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseRolloutPolicy(%q) = %+v, %v; want %+v", tt.value, got, err, tt.want)
			}
		})
	}
}

func TestParseNameListAndBool(t *testing.T) {
	if names, err := ParseNameList("a, b,c"); err != nil || !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("ParseNameList = %v, %v", names, err)
	}
	if _, err := ParseNameList("other/a"); err == nil || !strings.Contains(err.Error(), "another namespace") {
		t.Errorf("a name in another namespace gave %v", err)
	}
	for value, want := range map[string]bool{"": false, "true": true, "TRUE": true, "false": false} {
		if got, err := ParseBool(value); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", value, got, err, want)
		}
	}
	if _, err := ParseBool("yes"); err == nil {
		t.Error(`ParseBool("yes") gave no error`)
	}
}

func TestSelectSources(t *testing.T) {
	es := func(name string, policy RolloutPolicy) Candidate {
		return Candidate{ExternalSecret: &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: name}}, Policy: policy}
	}
	candidates := []Candidate{
		es("plain", RolloutPolicy{}),
		es("auto", RolloutPolicy{Auto: true}),
		es("names-api", RolloutPolicy{Workloads: []WorkloadRef{{"deployment", "api"}}}),
		es("names-db", RolloutPolicy{Workloads: []WorkloadRef{{"statefulset", "api"}}}),
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
