package aws

import (
	"time"

	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Options configure the AWS Secrets Manager provider.
type Options struct {
	// PollInterval is the time between sweeps of Secrets Manager.
	PollInterval time.Duration
	// Clients builds the client of a store; Identities.Client when nil.
	Clients ClientFactory
	// Identities reproduce the identities of the stores when Clients is nil.
	Identities Identities
	// CallTimeout bounds each AWS call; DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// EventQueueURL is an SQS queue that an EventBridge rule fills with
	// Secrets Manager events; empty leaves events off (sweep only).
	EventQueueURL string
	// Queue is the SQS client of EventQueueURL; the default credential chain
	// in the queue's region when nil.
	Queue QueueAPI
	// Log receives errors, backoffs and what happened to events.
	Log logr.Logger
}

// New builds the provider of opts: the sweep, with the event queue beside it
// when EventQueueURL is set. Its metrics are registered with the
// controller-runtime registry.
func New(opts Options) providers.Vault {
	m := NewMetrics(nil)
	clients := opts.Clients
	if clients == nil {
		clients = opts.Identities.Client
	}
	poller := &Poller{Interval: opts.PollInterval, Clients: clients, CallTimeout: opts.CallTimeout,
		Calls: m.Calls, Unfollowed: m.Unfollowed, Log: opts.Log}
	if opts.EventQueueURL == "" {
		return poller
	}
	return &EventDriven{Poller: poller, Queue: &EventQueue{
		URL: opts.EventQueueURL, Client: opts.Queue, Poller: poller,
		Events: m.Events, EventToTrigger: m.EventToTrigger, Log: opts.Log.WithName("events"),
	}}
}

var (
	_ providers.Vault = &Poller{}
	_ providers.Vault = &EventDriven{}
)
