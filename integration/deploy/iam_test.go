package deploy_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The IAM policy of eso-bridge's role is least privilege: one statement per
// feature, each action named (no wildcard), and none that reads a secret
// value or a parameter, or decrypts one.
func TestTheIAMPolicyGrantsNoValueAndOneStatementPerFeature(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo, "manifests", "iam-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Statement []struct {
			Sid, Effect string
			Action      []string
			Resource    any
		}
	}
	if err := json.Unmarshal(raw, &policy); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, st := range policy.Statement {
		if st.Effect != "Allow" || st.Sid == "" {
			t.Errorf("statement %+v: want a named Allow", st)
		}
		for _, action := range st.Action {
			lower := strings.ToLower(action)
			if strings.Contains(action, "*") || strings.Contains(lower, "getsecretvalue") || strings.Contains(lower, "getparameter") || strings.HasPrefix(lower, "kms:") {
				t.Errorf("statement %s grants %s: a wildcard, or an action that reads a value", st.Sid, action)
			}
		}
		got[st.Sid] = st.Action
	}
	want := map[string][]string{
		"ListSecretVersionsWithoutValues":                         {"secretsmanager:ListSecrets", "secretsmanager:DescribeSecret"},
		"ListParameterVersionsWithoutValuesOnlyForParameterStore": {"ssm:DescribeParameters"},
		"AssumeStoreRolesOnlyForStoresWithARole":                  {"sts:AssumeRole", "sts:TagSession"},
		"ReadRotationEventsOnlyWithAwsEventsQueueUrl":             {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("statements %v, want %v", got, want)
	}
}
