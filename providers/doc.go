// Package providers holds the vault version sources that tell eso-bridge when
// a remote secret's current version moves (providers/aws for AWS Secrets
// Manager). None is built yet; see the open issues.
package providers
