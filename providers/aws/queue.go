package aws

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eso-bridge/eso-bridge/providers"
)

// QueueAPI is the part of the SQS client the event queue calls: what
// sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes allow.
type QueueAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Results of a message, the label of EventQueue.Events.
const (
	// EventReceived counts every message received.
	EventReceived = "received"
	// EventHandled: the event moved a followed secret's AWSCURRENT, and the
	// move was reported.
	EventHandled = "handled"
	// EventDuplicate: the event named a followed secret whose current
	// version was already known (a second delivery, or the sweep was first).
	EventDuplicate = "duplicate"
	// EventIgnored: a valid event about no followed secret, or one that
	// cannot move AWSCURRENT.
	EventIgnored = "ignored"
	// EventMalformed: a message that is not an EventBridge event.
	EventMalformed = "malformed"
	// EventFailed: the check the event asked for failed; the message is
	// left in the queue, to come back after its visibility timeout (and to
	// go to the dead-letter queue, if one is set, after its last receive).
	EventFailed = "failed"
)

// EventQueue receives the Secrets Manager events that an EventBridge rule
// routes to an SQS queue, and asks the Poller to check each secret they name
// at once. The sweep goes on beside it: EventBridge delivers at least once
// and on a best-effort basis.
//
// A message is deleted once handled — reported, known already, ignored or
// malformed — and never after its visibility timeout has run out, when
// another receiver may hold it. One whose check failed stays in the queue.
type EventQueue struct {
	// URL is the queue's URL.
	URL string
	// Client is the SQS client; the default credential chain in the queue's
	// region when nil.
	Client QueueAPI
	// Poller checks the secrets events name.
	Poller *Poller
	// Events counts messages by result (see EventReceived...); may be nil.
	Events *prometheus.CounterVec
	// EventToTrigger observes, for each reported move, the time from the
	// message's arrival in the queue; may be nil.
	EventToTrigger prometheus.Observer
	// Log receives what happened to messages, never their bodies.
	Log logr.Logger
	// WaitTime is the long-poll wait of each receive; 20 s, SQS's maximum,
	// when zero.
	WaitTime time.Duration
}

// Run receives events until ctx ends. Errors are logged and retried with
// backoff; Run returns only when ctx ends.
func (q *EventQueue) Run(ctx context.Context, changes chan<- providers.Change) error {
	policy := backoff.NewExponentialBackOff()
	policy.InitialInterval, policy.MaxInterval, policy.MaxElapsedTime = time.Second, 5*time.Minute, 0
	retry := func(what string, err error) bool {
		wait := policy.NextBackOff()
		q.Log.Error(err, what+"; retrying", "queue", q.URL, "retryIn", wait)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
			return true
		}
	}
	var visibility time.Duration
	for {
		var err error
		if q.Client == nil {
			q.Client, err = defaultQueueClient(ctx, q.URL)
		}
		if err == nil {
			visibility, err = q.visibilityTimeout(ctx)
		}
		if err == nil {
			break
		}
		if !retry("reading the event queue's attributes", err) {
			return nil
		}
	}
	policy.Reset()
	q.Log.Info("receiving Secrets Manager events", "queue", q.URL, "visibilityTimeout", visibility)
	for ctx.Err() == nil {
		if err := q.receive(ctx, visibility, changes); err != nil && ctx.Err() == nil {
			if !retry("receiving events", err) {
				return nil
			}
			continue
		}
		policy.Reset()
	}
	return nil
}

// visibilityTimeout reads the queue's visibility timeout: the time a
// received message is hidden from other receivers, and so the time
// eso-bridge has to handle and delete it.
func (q *EventQueue) visibilityTimeout(ctx context.Context) (time.Duration, error) {
	out, err := q.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.URL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout},
	})
	q.Poller.count("GetQueueAttributes", err)
	if err != nil {
		return 0, fmt.Errorf("GetQueueAttributes: %w", err)
	}
	seconds, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	if err != nil || seconds < 1 {
		return 0, fmt.Errorf("the queue's VisibilityTimeout %q is not a positive number of seconds", out.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	}
	return time.Duration(seconds) * time.Second, nil
}

// receive takes one batch of up to 10 messages (long polling), handles
// them within their visibility timeout and deletes those handled.
func (q *EventQueue) receive(ctx context.Context, visibility time.Duration, changes chan<- providers.Change) error {
	wait := q.WaitTime
	if wait <= 0 {
		wait = 20 * time.Second
	}
	callCtx, cancel := context.WithTimeout(ctx, wait+DefaultCallTimeout)
	out, err := q.Client.ReceiveMessage(callCtx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: int32(wait / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
	})
	cancel()
	q.Poller.count("ReceiveMessage", err)
	if err != nil {
		return fmt.Errorf("ReceiveMessage: %w", err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	// Past the visibility timeout another receiver may hold a message: stop
	// short of it, with a margin for the delete itself.
	handleCtx, cancelHandling := context.WithTimeout(ctx, visibility-min(visibility/5, 5*time.Second))
	defer cancelHandling()
	var done []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if q.handle(handleCtx, m, changes) {
			done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(done) == 0 || handleCtx.Err() != nil {
		return nil
	}
	deleted, err := q.Client.DeleteMessageBatch(handleCtx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: done})
	q.Poller.count("DeleteMessageBatch", err)
	if err != nil {
		return fmt.Errorf("DeleteMessageBatch: %w", err)
	}
	for _, f := range deleted.Failed {
		// The message comes back after its visibility timeout and is found a
		// duplicate then: nothing is lost, a little is repeated.
		q.Log.Info("an event could not be deleted", "queue", q.URL, "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
	}
	return nil
}

// handle acts on one message and reports whether it may be deleted.
func (q *EventQueue) handle(ctx context.Context, m sqstypes.Message, changes chan<- providers.Change) bool {
	q.counted(EventReceived)
	id := aws.ToString(m.MessageId)
	event, err := ParseEvent(aws.ToString(m.Body))
	switch {
	case errors.Is(err, ErrNotSecretsManager):
		q.counted(EventIgnored)
		q.Log.V(1).Info("ignored an event", "messageId", id, "reason", err.Error())
		return true
	case err != nil:
		// The body may hold anything: it is neither logged nor kept.
		q.counted(EventMalformed)
		q.Log.Info("deleted a malformed message", "queue", q.URL, "messageId", id, "reason", err.Error())
		return true
	}
	refs := q.Poller.refsNamed(event)
	if len(refs) == 0 {
		q.counted(EventIgnored)
		q.Log.V(1).Info("ignored an event", "messageId", id, "kind", event.Kind, "secret", event.Secret, "label", event.Label, "followed", len(refs) > 0)
		return true
	}
	moved := false
	for _, ref := range refs {
		if known, ok := q.Poller.Current(ref); ok && event.VersionID != "" && known.ID == event.VersionID {
			continue // this version is known to be current: a second delivery
		}
		reported, err := q.Poller.Check(ctx, ref, changes)
		if err != nil {
			q.counted(EventFailed)
			q.Log.Error(err, "checking the secret an event names; the message stays in the queue", "messageId", id, "secret", ref.Key)
			return false
		}
		moved = moved || reported
	}
	if !moved {
		q.counted(EventDuplicate)
		return true
	}
	q.counted(EventHandled)
	if sent, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil && q.EventToTrigger != nil {
		q.EventToTrigger.Observe(time.Since(time.UnixMilli(sent)).Seconds())
	}
	q.Log.Info("an event moved a secret", "messageId", id, "kind", event.Kind, "secret", event.Secret, "versionId", event.VersionID)
	return true
}

func (q *EventQueue) counted(result string) {
	if q.Events != nil {
		q.Events.WithLabelValues(result).Inc()
	}
}

// defaultQueueClient is an SQS client with the controller's own credentials,
// in the region of the queue's URL (https://sqs.REGION.amazonaws.com/...),
// or the configured region for another URL. AWS_ENDPOINT_URL_SQS is honoured.
func defaultQueueClient(ctx context.Context, queueURL string) (QueueAPI, error) {
	var opts []func(*config.LoadOptions) error
	if region := regionOfQueue(queueURL); region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(cfg), nil
}

// regionOfQueue returns the region of an AWS SQS queue URL; "" for another URL.
func regionOfQueue(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws" {
		return parts[1]
	}
	return ""
}

// EventDriven is a Poller whose sweep runs beside EventQueues (one per
// region): one providers.Source that hears rotations within a second and
// still catches, at the sweep, any event that never arrived.
type EventDriven struct {
	*Poller
	Queues []*EventQueue
}

// Run runs the sweep and the queues until ctx ends.
func (s *EventDriven) Run(ctx context.Context, changes chan<- providers.Change) error {
	errs := make(chan error, 1+len(s.Queues))
	go func() { errs <- s.Poller.Run(ctx, changes) }()
	for _, q := range s.Queues {
		go func() { errs <- q.Run(ctx, changes) }()
	}
	var all []error
	for range 1 + len(s.Queues) {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}
