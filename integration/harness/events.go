package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscredentials "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"sigs.k8s.io/yaml"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

// EventQueue is an SQS queue on the control plane's moto, filled by an
// EventBridge rule with the event pattern of examples/aws/eventbridge-to-sqs.yaml,
// as a user's account would be.
type EventQueue struct {
	URL string
	// SQS is a client for the queue, for eso-bridge and the test alike.
	SQS    *sqs.Client
	events *eventbridge.Client
	t      testing.TB
}

// NewEventQueue creates the queue and the rule for the test's namespace.
// It needs moto (the control plane's default endpoint), which serves SQS and
// EventBridge besides Secrets Manager.
func NewEventQueue(t testing.TB, namespace string) *EventQueue {
	t.Helper()
	return NewEventQueueIn(t, namespace, controlplane.AWSRegion)
}

// NewEventQueueIn is NewEventQueue in region: its rule sees the events
// published there, as an EventBridge rule sees its own region's.
func NewEventQueueIn(t testing.TB, name, region string) *EventQueue {
	t.Helper()
	cp := ControlPlane(t)
	if cp.LocalSecretsManager != nil {
		t.Fatal("harness: an event queue needs moto, not the in-process Secrets Manager endpoint")
	}
	creds := awscredentials.NewStaticCredentialsProvider(controlplane.AWSAccessKeyID, controlplane.AWSSecretAccessKey, "")
	q := &EventQueue{
		SQS:    sqs.New(sqs.Options{Region: region, BaseEndpoint: aws.String(cp.SecretsManagerURL), Credentials: creds}),
		events: eventbridge.New(eventbridge.Options{Region: region, BaseEndpoint: aws.String(cp.SecretsManagerURL), Credentials: creds}),
		t:      t,
	}
	ctx := t.Context()
	created, err := q.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameVisibilityTimeout): "10"}})
	if err != nil {
		t.Fatalf("creating the event queue: %v", err)
	}
	q.URL = aws.ToString(created.QueueUrl)
	attrs, err := q.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	rule := aws.String(name)
	if _, err := q.events.PutRule(ctx, &eventbridge.PutRuleInput{Name: rule, EventPattern: aws.String(ExampleEventPattern(t))}); err != nil {
		t.Fatalf("creating the EventBridge rule: %v", err)
	}
	if _, err := q.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: rule, Targets: []ebtypes.Target{{
		Id: aws.String("eso-bridge"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
	}}}); err != nil {
		t.Fatalf("pointing the rule at the queue: %v", err)
	}
	return q
}

// ExampleEventPattern is the rule's event pattern in
// examples/aws/eventbridge-to-sqs.yaml, as JSON.
func ExampleEventPattern(t testing.TB) string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "examples", "aws", "eventbridge-to-sqs.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var template struct {
		Resources struct {
			Rule struct {
				Properties struct {
					EventPattern json.RawMessage
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &template); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(template.Resources.Rule.Properties.EventPattern) == 0 {
		t.Fatalf("%s has no Resources.Rule.Properties.EventPattern", path)
	}
	return string(template.Resources.Rule.Properties.EventPattern)
}

// repoRoot finds the repository's root from the test's folder.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Publish sends an event to the default event bus, as an AWS service would;
// the rule routes it to the queue when it matches the pattern.
func (q *EventQueue) Publish(detailType string, detail any, resources ...string) {
	q.t.Helper()
	q.PublishFrom("aws.secretsmanager", detailType, detail, resources...)
}

// PublishFrom is Publish for an event of source (aws.ssm for Parameter
// Store).
func (q *EventQueue) PublishFrom(source, detailType string, detail any, resources ...string) {
	q.t.Helper()
	data, err := json.Marshal(detail)
	if err != nil {
		q.t.Fatal(err)
	}
	out, err := q.events.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String(string(data)), Resources: resources,
	}}})
	if err != nil || out.FailedEntryCount > 0 {
		q.t.Fatalf("publishing a %s event: %v (%d failed)", detailType, err, aws.ToInt32(&out.FailedEntryCount))
	}
}

// SendRaw puts a message in the queue directly, bypassing EventBridge.
func (q *EventQueue) SendRaw(body string) {
	q.t.Helper()
	if _, err := q.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(body)}); err != nil {
		q.t.Fatalf("sending a message: %v", err)
	}
}

// Depth is the number of messages in the queue, visible or in flight.
func (q *EventQueue) Depth() (int, error) {
	out, err := q.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, name := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		n, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			return 0, fmt.Errorf("queue attribute %s = %q", name, out.Attributes[string(name)])
		}
		total += n
	}
	return total, nil
}
