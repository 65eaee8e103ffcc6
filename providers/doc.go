// Package providers defines what eso-bridge needs from a vault: the current
// version of each remote secret an ExternalSecret reads, and word when it
// moves. providers/aws implements it for AWS Secrets Manager; another vault
// (SSM Parameter Store, Vault KV v2, GCP Secret Manager) fits the same Source.
package providers
