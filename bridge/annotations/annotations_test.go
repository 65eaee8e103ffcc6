package annotations

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
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
		"a path-like name is not a namespace":     {value: "deployment/../x", wantErr: `"deployment/../x" is not kind/name`},
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

func TestRolloutResultParses(t *testing.T) {
	for value, ok := range map[string]bool{
		`{"outcome":"RolloutComplete","finishedAt":"2026-01-01T00:00:00Z","restartedAt":"x"}`: true,
		"": false, "complete": false, `{"outcome":`: false,
	} {
		if _, got := ParseRolloutResult(value); got != ok {
			t.Errorf("ParseRolloutResult(%q) ok = %v, want %v", value, got, ok)
		}
	}
}

// An error quotes a short prefix of a long value: a Warning that quotes it
// whole exceeds what an Event can hold, and the API server drops it.
func TestErrorsQuoteAShortPrefixOfLongValues(t *testing.T) {
	long := strings.Repeat("ä", 5*1024) // 10 KiB of two-byte characters
	_, policyErr := ParseRolloutPolicy("deployment/" + long)
	_, listErr := ParseNameList(long)
	_, boolErr := ParseBool(long)
	for _, err := range []error{policyErr, listErr, boolErr} {
		if err == nil {
			t.Fatal("a 10 KiB value was accepted")
		}
		if msg := err.Error(); len(msg) > 700 || !strings.Contains(msg, "bytes)") || !utf8.ValidString(msg) {
			t.Errorf("the error is %d bytes (valid UTF-8: %v), want a short prefix and the length: %.120s", len(msg), utf8.ValidString(msg), msg)
		}
	}
	if _, err := ParseNameList("team-a/db"); err == nil || !strings.Contains(err.Error(), "another namespace") {
		t.Errorf("a name in another namespace gave %v", err)
	}
	if _, err := ParseNameList("../db"); err == nil || strings.Contains(err.Error(), "namespace") {
		t.Errorf("a path-like name is reported as %v, want an invalid name", err)
	}
}
