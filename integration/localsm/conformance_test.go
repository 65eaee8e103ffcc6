package localsm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/eso-bridge/eso-bridge/integration/localsm"
)

// endpoint is one implementation of Secrets Manager the suite runs against.
type endpoint struct {
	name   string
	client *secretsmanager.Client
	// diverges names the checks where this endpoint is known to differ from
	// AWS, with why; such a check is logged, not failed.
	diverges map[string]string
}

// knownMotoDivergences are moto 5.2's departures from AWS that the suite
// meets; recorded, not papered over. Others known (not met by these checks):
// a later PutSecretValue can leave two versions labelled AWSCURRENT after a
// promotion; unlabelled versions are listed with empty stages;
// ListSecretVersionIds has no paging and answers 500 for a missing secret.
var knownMotoDivergences = map[string]string{
	"promoted version is the default": "moto: after UpdateSecretVersionStage moves AWSCURRENT, GetSecretValue without a stage still returns the old version",
}

func TestConformance(t *testing.T) {
	local := localsm.New(localsm.Options{})
	url, err := local.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	endpoints := []endpoint{{name: "localsm", client: client(url)}}
	endpoints = append(endpoints, endpoint{name: "moto", client: client(startMoto(t)), diverges: knownMotoDivergences})

	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			for name, check := range conformanceChecks {
				t.Run(name, func(t *testing.T) { check(t, ep) })
			}
		})
	}
}

// expect fails the test unless ok, or logs when the endpoint is known to diverge there.
func (ep endpoint) expect(t *testing.T, check string, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	if why, known := ep.diverges[check]; known {
		t.Logf("known divergence (%s): %s", check, why)
		return
	}
	t.Errorf("%s: "+format, append([]any{check}, args...)...)
}

var conformanceChecks = map[string]func(*testing.T, endpoint){
	"a partial ARN names its secret": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		create(t, ep, name, "one")
		full, err := ep.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		partial := aws.ToString(full.ARN)[:len(aws.ToString(full.ARN))-7]
		out, err := ep.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &partial})
		ep.expect(t, "partial ARN", err == nil && aws.ToString(out.SecretString) == "one", "GetSecretValue(%s): %v", partial, err)
	},
	"a secret scheduled for deletion is described, not listed": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		create(t, ep, name, "one")
		if _, err := ep.client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &name, RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			t.Fatal(err)
		}
		out, err := ep.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
		ep.expect(t, "scheduled deletion described", err == nil && out.DeletedDate != nil, "DescribeSecret: %v, DeletedDate %v", err, out)
		listed := false
		for p := secretsmanager.NewListSecretsPaginator(ep.client, &secretsmanager.ListSecretsInput{}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			listed = listed || slices.ContainsFunc(page.SecretList, func(e types.SecretListEntry) bool { return aws.ToString(e.Name) == name })
		}
		ep.expect(t, "scheduled deletion not listed", !listed, "ListSecrets still lists %s", name)
		_, err = ep.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
		var invalid *types.InvalidRequestException
		ep.expect(t, "scheduled deletion not read", errors.As(err, &invalid), "GetSecretValue: %v, want InvalidRequestException", err)
	},
	"a new secret's only version is AWSCURRENT": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		id := create(t, ep, name, "one")
		stages := describe(t, ep, name)
		ep.expect(t, "stages", len(stages) == 1 && slices.Equal(stages[id], []string{"AWSCURRENT"}), "VersionIdsToStages = %v", stages)
		out, err := ep.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		ep.expect(t, "value", aws.ToString(out.SecretString) == "one" && aws.ToString(out.VersionId) == id, "GetSecretValue = %q version %s", aws.ToString(out.SecretString), aws.ToString(out.VersionId))
	},
	"PutSecretValue moves AWSCURRENT and leaves AWSPREVIOUS": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		first := create(t, ep, name, "one")
		out, err := ep.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String("two")})
		if err != nil {
			t.Fatal(err)
		}
		second := aws.ToString(out.VersionId)
		stages := describe(t, ep, name)
		ep.expect(t, "current", slices.Contains(stages[second], "AWSCURRENT"), "new version %s has %v", second, stages[second])
		ep.expect(t, "previous", slices.Equal(stages[first], []string{"AWSPREVIOUS"}), "old version %s has %v", first, stages[first])
		ep.expect(t, "value", value(t, ep, name, "") == "two", "GetSecretValue after the put")
	},
	"a rotation Lambda's pending version changes nothing until promoted": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		first := create(t, ep, name, "one")
		out, err := ep.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: &name, SecretString: aws.String("two"), VersionStages: []string{"AWSPENDING"},
		})
		if err != nil {
			t.Fatal(err)
		}
		pending := aws.ToString(out.VersionId)
		stages := describe(t, ep, name)
		ep.expect(t, "current unmoved", slices.Contains(stages[first], "AWSCURRENT"), "AWSCURRENT moved at the pending put: %v", stages)
		ep.expect(t, "pending", slices.Equal(stages[pending], []string{"AWSPENDING"}), "pending version has %v", stages[pending])
		ep.expect(t, "value unmoved", value(t, ep, name, "") == "one", "GetSecretValue returned the pending value")
		ep.expect(t, "pending value", value(t, ep, name, "AWSPENDING") == "two", "GetSecretValue(AWSPENDING)")

		if _, err := ep.client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: &name, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: &pending, RemoveFromVersionId: &first,
		}); err != nil {
			t.Fatal(err)
		}
		stages = describe(t, ep, name)
		ep.expect(t, "promoted", slices.Contains(stages[pending], "AWSCURRENT"), "after promotion: %v", stages)
		ep.expect(t, "previous", slices.Contains(stages[first], "AWSPREVIOUS"), "old current after promotion has %v", stages[first])
		ep.expect(t, "promoted value", value(t, ep, name, "AWSCURRENT") == "two", "GetSecretValue(AWSCURRENT) after promotion")
		ep.expect(t, "promoted version is the default", value(t, ep, name, "") == "two", "GetSecretValue() after promotion")
	},
	"moving a label attached elsewhere requires naming its holder": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		create(t, ep, name, "one")
		out, err := ep.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String("two"), VersionStages: []string{"AWSPENDING"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ep.client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: &name, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: out.VersionId,
		})
		ep.expect(t, "moving a held label needs RemoveFromVersionId", apiCode(err) == "InvalidParameterException", "got %v", err)
	},
	"ListSecrets filters by name prefix, pages, and shows versions": func(t *testing.T, ep endpoint) {
		ctx, prefix := t.Context(), uniqueName(t)
		var ids []string
		for i := range 3 {
			ids = append(ids, create(t, ep, fmt.Sprintf("%s/%d", prefix, i), "v"))
		}
		create(t, ep, prefix+"-other", "v") // shares the prefix up to the slash only
		input := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(2), Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix + "/"}}}}
		var seen []string
		pages := 0
		for paginator := secretsmanager.NewListSecretsPaginator(ep.client, input); paginator.HasMorePages(); {
			page, err := paginator.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, entry := range page.SecretList {
				seen = append(seen, aws.ToString(entry.Name))
				index, _ := strconv.Atoi(aws.ToString(entry.Name)[len(prefix)+1:])
				ep.expect(t, "versions listed", slices.Contains(entry.SecretVersionsToStages[ids[index]], "AWSCURRENT"),
					"%s lists %v", aws.ToString(entry.Name), entry.SecretVersionsToStages)
			}
		}
		slices.Sort(seen)
		ep.expect(t, "filtered", slices.Equal(seen, []string{prefix + "/0", prefix + "/1", prefix + "/2"}), "listed %v", seen)
		ep.expect(t, "paged", pages == 2, "%d pages of at most 2 for 3 secrets", pages)
	},
	"ListSecretVersionIds lists every version": func(t *testing.T, ep endpoint) {
		ctx, name := t.Context(), uniqueName(t)
		first := create(t, ep, name, "one")
		out, err := ep.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String("two")})
		if err != nil {
			t.Fatal(err)
		}
		list, err := ep.client.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range list.Versions {
			ids = append(ids, aws.ToString(v.VersionId))
		}
		ep.expect(t, "versions", len(ids) == 2 && slices.Contains(ids, first) && slices.Contains(ids, aws.ToString(out.VersionId)), "listed %v", ids)
	},
	"BatchGetSecretValue returns the current values of the secrets tags select": func(t *testing.T, ep endpoint) {
		ctx, prefix := t.Context(), uniqueName(t)
		for i, team := range []string{prefix, prefix, "someone-else"} {
			name := fmt.Sprintf("%s-%d", prefix, i)
			if _, err := ep.client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: &name, SecretString: aws.String(fmt.Sprint("value-", i)),
				Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String(team)}},
			}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := ep.client.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{Filters: []types.Filter{
			{Key: types.FilterNameStringTypeTagKey, Values: []string{"team"}},
			{Key: types.FilterNameStringTypeTagValue, Values: []string{prefix}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, v := range out.SecretValues {
			got[aws.ToString(v.Name)] = aws.ToString(v.SecretString)
		}
		want := map[string]string{prefix + "-0": "value-0", prefix + "-1": "value-1"}
		ep.expect(t, "batch by tags", fmt.Sprint(got) == fmt.Sprint(want), "got %v, want %v", got, want)
	},
	"a missing secret is ResourceNotFoundException": func(t *testing.T, ep endpoint) {
		_, err := ep.client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(uniqueName(t))})
		var notFound *types.ResourceNotFoundException
		ep.expect(t, "not found", errors.As(err, &notFound), "got %v", err)
	},
}

// TestFaultInjection checks what the fault tests rely on: each injected fault
// reaches the SDK as the error AWS would send, and the endpoint serves again after.
func TestFaultInjection(t *testing.T) {
	local := localsm.New(localsm.Options{})
	url, err := local.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	ep := endpoint{name: "localsm", client: client(url)}
	name := uniqueName(t)
	create(t, ep, name, "one")

	for fault, want := range map[localsm.Fault]string{
		localsm.Throttling:  "ThrottlingException",
		localsm.ServerError: "InternalServiceError",
		localsm.Unavailable: "ServiceUnavailable",
	} {
		local.FailNext("DescribeSecret", 1, fault)
		_, err := ep.client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: &name})
		if got := apiCode(err); got != want {
			t.Errorf("fault %d reached the SDK as %q (%v), want %s", fault, got, err, want)
		}
	}
	if _, err := ep.client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: &name}); err != nil {
		t.Errorf("the endpoint did not recover after the faults: %v", err)
	}
	if got := local.Calls()["DescribeSecret"]; got != 4 {
		t.Errorf("Calls()[DescribeSecret] = %d, want 4 (faults count as calls)", got)
	}

	local.SetLatency(300 * time.Millisecond)
	started := time.Now()
	if _, err := ep.client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: &name}); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(started); elapsed < 300*time.Millisecond {
		t.Errorf("a call with 300ms of injected latency returned after %s", elapsed)
	}
}

func client(url string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

func uniqueName(t *testing.T) string {
	return fmt.Sprintf("conformance-%d-%d", time.Now().UnixNano(), len(t.Name()))
}

func create(t *testing.T, ep endpoint, name, value string) string {
	t.Helper()
	out, err := ep.client.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	if err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return aws.ToString(out.VersionId)
}

func describe(t *testing.T, ep endpoint, name string) map[string][]string {
	t.Helper()
	out, err := ep.client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatalf("DescribeSecret %s: %v", name, err)
	}
	return out.VersionIdsToStages
}

func value(t *testing.T, ep endpoint, name, stage string) string {
	t.Helper()
	input := &secretsmanager.GetSecretValueInput{SecretId: &name}
	if stage != "" {
		input.VersionStage = &stage
	}
	out, err := ep.client.GetSecretValue(context.WithoutCancel(t.Context()), input)
	if err != nil {
		t.Fatalf("GetSecretValue %s (%s): %v", name, stage, err)
	}
	return aws.ToString(out.SecretString)
}

func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// startMoto runs moto's server on a free loopback port for the test.
func startMoto(t *testing.T) string {
	t.Helper()
	if err := exec.Command("python3", "-c", "import moto.server").Run(); err != nil {
		t.Fatalf("moto is needed for the conformance suite: `python3 -c 'import moto.server'` failed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("moto did not start within 30s")
	return ""
}
