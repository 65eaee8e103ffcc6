// Package providers defines what eso-bridge needs from a vault: which remote
// secrets an ExternalSecret reads, the current version of each, and word when
// it moves. providers/aws implements it for AWS Secrets Manager; another vault
// (SSM Parameter Store, Vault KV v2, GCP Secret Manager) fits the same Vault.
package providers
