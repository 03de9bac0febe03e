// Package securitytest holds the sandbox's adversarial tests: a hostile
// guest (internal/testguests/hostile) run through the real host path
// (sandbox.Compile, tenant.New, egress rules, baton-sdk's connector client)
// next to a healthy tenant, and a secret-hygiene test that looks for the
// tenant's token in every log line, error, audit record, c1z file, metric
// and in guest memory. It has no non-test code; SECURITY.md cites it.
package securitytest
