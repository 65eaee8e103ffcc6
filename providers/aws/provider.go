package aws

import (
	"time"

	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Options configure the AWS provider: Secrets Manager and SSM Parameter
// Store.
type Options struct {
	// PollInterval is the time between sweeps.
	PollInterval time.Duration
	// Clients builds the client of a store; Identities.Client when nil.
	Clients ClientFactory
	// ParameterClients builds the Parameter Store client of a store;
	// Identities.ParameterClient when nil.
	ParameterClients ParameterClientFactory
	// Identities reproduce the identities of the stores when Clients or
	// ParameterClients is nil.
	Identities Identities
	// CallTimeout bounds each AWS call; DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// EventQueueURLs are SQS queues that EventBridge rules fill with
	// Secrets Manager events, one per region the stores read (an
	// EventBridge rule sees its own region's events); none leaves events
	// off (sweep only).
	EventQueueURLs []string
	// QueueClients are the SQS clients of some EventQueueURLs; the others
	// get the default credential chain in the queue's region.
	QueueClients map[string]QueueAPI
	// Log receives errors, backoffs and what happened to events.
	Log logr.Logger
}

// New builds the provider of opts: the sweep, with the event queues beside
// it when EventQueueURLs names any. Its metrics are registered with the
// controller-runtime registry.
func New(opts Options) providers.Vault {
	m := NewMetrics(nil)
	clients := opts.Clients
	if clients == nil {
		clients = opts.Identities.Client
	}
	parameterClients := opts.ParameterClients
	if parameterClients == nil {
		parameterClients = opts.Identities.ParameterClient
	}
	poller := &Poller{Interval: opts.PollInterval, Clients: clients, ParameterClients: parameterClients, CallTimeout: opts.CallTimeout,
		Calls: m.Calls, Unfollowed: m.Unfollowed, LastSweep: m.LastSweep, Log: opts.Log}
	m.SweepInterval.Set(opts.PollInterval.Seconds())
	if len(opts.EventQueueURLs) == 0 {
		return poller
	}
	driven := &EventDriven{Poller: poller}
	for _, url := range opts.EventQueueURLs {
		driven.Queues = append(driven.Queues, &EventQueue{
			URL: url, Client: opts.QueueClients[url], Poller: poller,
			Events: m.Events, EventToTrigger: m.EventToTrigger, Log: opts.Log.WithName("events"),
		})
	}
	return driven
}

var (
	_ providers.Vault = &Poller{}
	_ providers.Vault = &EventDriven{}
)
