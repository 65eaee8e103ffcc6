package integration_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// The event tests run on moto, which serves Secrets Manager, SQS and
// EventBridge on one loopback port: each test gets a queue and a rule with
// the event pattern of examples/aws/eventbridge-to-sqs.yaml, and publishes
// the events Secrets Manager would send for its rotations.

// eventsBed is a consumer of one rotated secret, with eso-bridge reading an
// event queue and sweeping every sweep.
type eventsBed struct {
	*harness.Scenario
	queue *harness.EventQueue
	// regional are the queues of the other regions, by region.
	regional map[string]*harness.EventQueue
	es       *esv1.ExternalSecret
	api      client.Object
}

func newEventsBed(t *testing.T, sweep time.Duration) *eventsBed {
	return newEventsBedVia(t, sweep, nil)
}

// newEventsBedVia is newEventsBed with eso-bridge reaching Secrets Manager
// through outage (nil: directly), and reading a queue of each of regions
// besides the control plane's; SQS is always reached directly.
func newEventsBedVia(t *testing.T, sweep time.Duration, outage *harness.Outage, regions ...string) *eventsBed {
	s := harness.NewScenario(t)
	bed := &eventsBed{Scenario: s, queue: harness.NewEventQueue(t, s.NS), regional: map[string]*harness.EventQueue{}}
	for _, region := range regions {
		bed.regional[region] = harness.NewEventQueueIn(t, s.NS+"-"+region, region)
	}
	bed.es = s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	bed.api = s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	provider := s.LocalAWSOptions(sweep)
	if outage != nil {
		provider.Clients = func(context.Context, awsprovider.Store) (awsprovider.API, error) {
			return controlplane.NewSecretsManager(outage.URL).Client, nil
		}
	}
	provider.QueueClients = map[string]awsprovider.QueueAPI{}
	for _, q := range append([]*harness.EventQueue{bed.queue}, slices.Collect(maps.Values(bed.regional))...) {
		provider.EventQueueURLs = append(provider.EventQueueURLs, q.URL)
		provider.QueueClients[q.URL] = q.SQS
	}
	listsBefore := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets"})
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: awsprovider.New(provider)})
	s.WaitAdopted(bed.api)
	// The first sweep, at start, learns the current version; a rotation is
	// a move from it.
	s.WaitFor("the first sweep", func() (bool, string) {
		return harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets"}) > listsBefore, "no ListSecrets yet"
	})
	return bed
}

// rotate puts a new value in AWS and returns its version ID and the
// secret's ARN, for the events.
func (bed *eventsBed) rotate() (version, arn string) {
	bed.T.Helper()
	version, err := bed.CP.SecretsManager.PutValue(bed.Ctx, bed.RemoteKey("db"), "v2-"+time.Now().Format(time.RFC3339Nano))
	if err != nil {
		bed.T.Fatal(err)
	}
	described, err := bed.CP.SecretsManager.Client.DescribeSecret(bed.Ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(bed.RemoteKey("db"))})
	if err != nil {
		bed.T.Fatal(err)
	}
	return version, aws.ToString(described.ARN)
}

// labelUpdated publishes Secrets Manager's own event for an AWSCURRENT move.
func (bed *eventsBed) labelUpdated(version, arn string) {
	bed.queue.Publish("Secret Label Updated", map[string]string{"name": bed.RemoteKey("db"), "labelUpdated": "AWSCURRENT", "versionId": version}, arn)
}

func (bed *eventsBed) events(result string) float64 {
	return harness.Counter(bed.T, "eso_bridge_aws_events_total", map[string]string{"result": result})
}

// waitQueueEmpty waits until every message has been deleted.
func (bed *eventsBed) waitQueueEmpty() {
	bed.WaitFor("the queue to be emptied", func() (bool, string) {
		n, err := bed.queue.Depth()
		if err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d message(s) left", n)
	})
}

// An event in the queue triggers ESO and one rollout though the sweep is an
// hour away.
func TestEventTriggersRotationWithTheSweepAnHourAway(t *testing.T) {
	bed := newEventsBed(t, time.Hour)
	handled, observed := bed.events("handled"), harness.Counter(t, "eso_bridge_event_to_trigger_seconds", nil)

	version, arn := bed.rotate()
	published := time.Now()
	bed.labelUpdated(version, arn)
	bed.WaitFor("the ExternalSecret to be triggered with the new version", func() (bool, string) {
		got := bed.Get(bed.es).GetAnnotations()[annotations.AnnotationVaultVersions]
		return strings.Contains(got, version), annotations.AnnotationVaultVersions + "=" + got
	})
	t.Logf("event published → ExternalSecret triggered: %s", time.Since(published).Round(time.Millisecond))
	bed.ExpectRestarts(bed.api, 1)
	if got := bed.events("handled") - handled; got != 1 {
		t.Errorf("events handled: %v, want 1", got)
	}
	if got := harness.Counter(t, "eso_bridge_event_to_trigger_seconds", nil) - observed; got != 1 {
		t.Errorf("eso_bridge_event_to_trigger_seconds observed %v events, want 1", got)
	}
	bed.waitQueueEmpty()
}

// The same event delivered twice triggers once; a malformed message and an
// event about a secret nothing reads are counted and deleted, and the
// controller goes on.
func TestDuplicateMalformedAndForeignEventsChangeNothing(t *testing.T) {
	bed := newEventsBed(t, time.Hour)
	before := map[string]float64{}
	for _, result := range []string{"received", "handled", "duplicate", "malformed", "ignored", "failed"} {
		before[result] = bed.events(result)
	}

	bed.queue.SendRaw(`{"Message": "not an EventBridge event"`)
	version, arn := bed.rotate()
	bed.labelUpdated(version, arn)
	bed.ExpectRestarts(bed.api, 1)
	triggeredAt := bed.Get(bed.es).GetAnnotations()[annotations.AnnotationTriggeredAt]

	bed.labelUpdated(version, arn) // EventBridge delivers at least once
	bed.queue.Publish("Secret Label Updated", map[string]string{"name": "someone-elses/secret", "labelUpdated": "AWSCURRENT", "versionId": "v9"})
	bed.waitQueueEmpty()
	bed.WaitFor("all 4 messages counted", func() (bool, string) {
		got := bed.events("received") - before["received"]
		return got == 4, fmt.Sprintf("%v received", got)
	})
	want := map[string]float64{"handled": 1, "duplicate": 1, "malformed": 1, "ignored": 1, "failed": 0}
	for result, n := range want {
		if got := bed.events(result) - before[result]; got != n {
			t.Errorf("events %s: %v, want %v", result, got, n)
		}
	}
	if got := bed.Get(bed.es).GetAnnotations()[annotations.AnnotationTriggeredAt]; got != triggeredAt {
		t.Errorf("the duplicate event triggered the ExternalSecret again (triggered-at %s, then %s)", triggeredAt, got)
	}
	bed.ExpectNoMoreRestartsThan(bed.api, 1)
	if log := harness.BridgeLog(t, bed.Scenario); strings.Contains(log, "not an EventBridge event\"") {
		t.Error("the malformed message's body reached the log")
	}
}

// A blue/green switch heard by event: an ExternalSecret reads the label
// "blue", the sweep is an hour away, and the event of the label's move
// restarts its consumer once, with the blue value; the consumer of
// AWSCURRENT is left alone.
func TestAnEventMovingAPinnedLabelRotatesItsReaders(t *testing.T) {
	bed := newEventsBed(t, time.Hour)
	lists := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets"})
	bed.ExternalSecretAtLabel("switch", "blue", "blue-1", map[string]string{annotations.AnnotationRollout: "auto"})
	key := bed.RemoteKey("switch")
	web := bed.Workload(harness.WorkloadKinds[0], "web", nil, "switch")
	bed.WaitAdopted(web)
	bed.WaitFor("eso-bridge to see the blue version", func() (bool, string) {
		return harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets"}) > lists, "no sweep since it was created"
	})

	version, err := bed.CP.SecretsManager.PutLabelled(bed.Ctx, key, "blue-2", "blue")
	if err != nil {
		t.Fatal(err)
	}
	described, err := bed.CP.SecretsManager.Client.DescribeSecret(bed.Ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	bed.queue.Publish("Secret Label Updated", map[string]string{"name": key, "labelUpdated": "blue", "versionId": version}, aws.ToString(described.ARN))
	bed.ExpectRestarts(web, 1)
	if got := bed.SecretData("switch", "value"); got != "blue-2" {
		t.Errorf("the Secret holds %q, want blue-2", got)
	}
	bed.ExpectNoMoreRestartsThan(bed.api, 0)
}

// One queue per region, each read with its own client: a rotation in
// eu-west-1 announced on eu-west-1's queue restarts the consumer of the
// eu-west-1 store once, and one in us-east-1 on its own queue the consumer of
// the us-east-1 store; the sweep is an hour away.
func TestEachRegionsQueueRotatesItsRegionsStores(t *testing.T) {
	const region = "eu-west-1"
	bed := newEventsBedVia(t, time.Hour, nil, region)
	lists := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets"})
	euStore := bed.SecretStoreLike("aws-"+region, func(p *esv1.AWSProvider) { p.Region = region })
	eu := bed.CP.SecretsManager.InRegion(region)
	key := bed.RemoteKey("eu-db")
	if _, err := eu.CreateSecret(bed.Ctx, key, "eu-1"); err != nil {
		t.Fatal(err)
	}
	harness.WaitPastTheSecond()
	es := controlplane.ExternalSecret(bed.NS, "eu-db", key, "value", time.Hour)
	es.Annotations = map[string]string{annotations.AnnotationRollout: "auto"}
	es.Spec.SecretStoreRef.Name = euStore.Name
	if err := bed.Client.Create(bed.Ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(bed.Ctx, bed.Client, client.ObjectKeyFromObject(es)); err != nil {
		t.Fatal(err)
	}
	euAPI := bed.Workload(harness.WorkloadKinds[0], "eu-api", nil, "eu-db")
	bed.WaitAdopted(euAPI)
	bed.WaitFor("eso-bridge to sweep the eu-west-1 store", func() (bool, string) {
		return harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets"}) > lists, "no sweep since it was created"
	})

	version, err := eu.PutValue(bed.Ctx, key, "eu-2")
	if err != nil {
		t.Fatal(err)
	}
	described, err := eu.Client.DescribeSecret(bed.Ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	bed.regional[region].Publish("Secret Label Updated", map[string]string{"name": key, "labelUpdated": "AWSCURRENT", "versionId": version}, aws.ToString(described.ARN))
	bed.ExpectRestarts(euAPI, 1)
	if got := bed.SecretData("eu-db", "value"); got != "eu-2" {
		t.Errorf("the eu-west-1 Secret holds %q, want eu-2", got)
	}

	bed.labelUpdated(bed.rotate())
	bed.ExpectRestarts(bed.api, 1)
	bed.ExpectNoMoreRestartsThan(euAPI, 1)
}

// An event that never arrives is caught by the sweep.
func TestLostEventIsCaughtByTheSweep(t *testing.T) {
	bed := newEventsBed(t, 2*time.Second)
	received := bed.events("received")
	bed.rotate() // and no event
	bed.ExpectRestarts(bed.api, 1)
	if got := bed.events("received") - received; got != 0 {
		t.Errorf("%v events received, want none", got)
	}
}

// The example rule routes a put recorded by CloudTrail and leaves out
// CloudTrail's record of a read, ESO's own GetSecretValue: the queue would
// otherwise receive an event for every sync.
func TestExampleRuleRoutesCloudTrailPutsButNotReads(t *testing.T) {
	bed := newEventsBed(t, time.Hour)
	received, handled := bed.events("received"), bed.events("handled")

	cloudTrail := func(eventName string, request map[string]string, response map[string]string) map[string]any {
		return map[string]any{"eventSource": "secretsmanager.amazonaws.com", "eventName": eventName, "awsRegion": "us-east-1",
			"requestParameters": request, "responseElements": response}
	}
	bed.queue.Publish("AWS API Call via CloudTrail", cloudTrail("GetSecretValue", map[string]string{"secretId": bed.RemoteKey("db")}, nil))
	version, arn := bed.rotate()
	bed.queue.Publish("AWS API Call via CloudTrail", cloudTrail("PutSecretValue",
		map[string]string{"secretId": bed.RemoteKey("db")}, map[string]string{"arn": arn, "versionId": version}))
	bed.ExpectRestarts(bed.api, 1)
	bed.waitQueueEmpty()
	if got := bed.events("handled") - handled; got != 1 {
		t.Errorf("events handled: %v, want 1", got)
	}
	if got := bed.events("received") - received; got != 1 {
		t.Errorf("events received: %v, want 1 (the put; the rule must leave the read out)", got)
	}
}

// An event whose check fails (Secrets Manager down) stays in the queue: it
// comes back after its visibility timeout (10 s here) and then rotates the
// workload, once. Nothing restarts during the outage.
func TestEventWhoseCheckFailsStaysInTheQueueUntilItSucceeds(t *testing.T) {
	outage := harness.NewOutage(t, harness.ControlPlane(t).SecretsManagerURL)
	bed := newEventsBedVia(t, time.Hour, outage)
	failed, handled := bed.events("failed"), bed.events("handled")

	outage.Down(true)
	version, arn := bed.rotate()
	bed.labelUpdated(version, arn)
	bed.WaitFor("the check to fail", func() (bool, string) {
		got := bed.events("failed") - failed
		return got >= 1, fmt.Sprintf("%v failed", got)
	})
	if n, err := bed.queue.Depth(); err != nil || n != 1 {
		t.Errorf("the queue holds %d message(s) (%v) after the failed check, want the event still there", n, err)
	}
	bed.ExpectNoMoreRestartsThan(bed.api, 0)

	outage.Down(false)
	bed.ExpectRestarts(bed.api, 1)
	bed.waitQueueEmpty()
	if got := bed.events("handled") - handled; got != 1 {
		t.Errorf("events handled: %v, want 1 (after the redelivery)", got)
	}
	t.Logf("%d requests refused during the outage", outage.Refused.Load())
}
