// Package bridge assembles the eso-bridge controller: its options, the
// manager, and the wiring of the controllers that each live in a package of
// their own. A rotation flows through them in this order:
//
//	providers (a Vault)  a remote secret's current version moves
//	trigger              annotates the ExternalSecrets that read it: ESO refreshes
//	restart              gathers each consumer's sources, asks gate, patches once
//	rollout              follows the rollout until the new pods are Ready
//	tracing / rotation   one trace per rotation, read back from the cluster
//
// The pure decisions (gate, optin, the annotation codecs, traceparent, eso)
// import no client; workload adapts each kind of workload; the read model
// (rotation) feeds tracing and the CLI, never the write path.
package bridge
