// Package config reads the multi-tenant daemon's configuration file,
// runner.toml, used by `baton-runner serve --config runner.toml` and checked
// by `baton-runner config check runner.toml`.
//
// # Format
//
//	[runtime]                               # optional; every key has a default
//	cache_dir = "/var/cache/baton-runner"   # compiled-module cache; default: the user cache dir's baton-runner/wazero
//	memory_limit_mib = 256                  # per guest instance, 16..4096 (default 256)
//	call_timeout = "2m"                     # per guest call, > 0 (default 2m)
//	instances_per_tenant = 2                # concurrent guest calls per tenant, 1..64 (default 2)
//	max_concurrent_syncs = 2                # syncs running at once (scheduled, and service tenants' sync tasks), all tenants, 1..256 (default 2)
//	process_memory_mib = 0                  # memory budget of the whole serve process: syncs (service tenants' sync tasks too) wait
//	                                        #   until their estimated peaks fit (0 = none; else 128..1048576; README "Operating serve")
//	listen = "127.0.0.1:9090"               # health + metrics address; "" or absent = off
//	storage_engine = "pebble"               # c1z storage engine of syncs: "pebble" (default, less CPU) or "sqlite" (less memory)
//	sync_timeout = "12h"                    # sync limits, inherited by every tenant (defaults shown):
//	max_pages = 2000000                     #   wall time of a sync, 1m..168h; guest list calls, 1..1e9;
//	max_empty_pages = 100                   #   pages in a row of one listing without progress, 1..1e9;
//	max_items = 20000000                    #   resources+entitlements+grants listed, 1..1e10;
//	max_depth = 8                           #   nesting of child resources, 1..64;
//	max_c1z_mib = 8192                      #   disk of the c1z store, 16..1048576;
//	request_budget = 0                      #   API requests, 0..2^31-1 (0 = unlimited)
//	max_in_flight = 32                      # API requests in flight per tenant, 1..64 (adaptive below it)
//
//	[connectors.segment]                    # name: [a-z0-9][a-z0-9-]{0,62}
//	wasm = "embedded:segment"               # a module built into the binary, or a path to a .wasm
//	sha256 = "…64 hex…"                     # optional pin, checked when the module is loaded
//	kind = "baton-runner"                   # the module's contract: "baton-runner" (default: the JSON ABI,
//	                                        #   the Segment connector) or "baton-sdk" (see below)
//
//	[[tenants]]                             # at least one
//	name = "acme-prod"                      # unique, [a-z0-9][a-z0-9-]{0,62}
//	connector = "segment"                   # must name a [connectors.X]
//	base_url = "https://api.segmentapis.com"  # default per connector (segment: https://api.segmentapis.com)
//	token = "env:ACME_SEGMENT_TOKEN"        # a reference ONLY: env:VAR or file:/path
//	mode = "sync"                           # "sync" or "service"
//	provisioning = false                    # allow grant and revoke (default false)
//	entitlement_ids = "role-id"             # Segment role entitlements on sources…: "role-id" (default) or
//	                                        #   "baton-segment", the IDs of ConductorOne's baton-segment (a migration)
//	requests_per_minute = 600               # API request rate; 0 or absent = unlimited
//	request_budget = 100000                 # API requests per sync; 0 = unlimited (default: [runtime]'s)
//	sync_timeout = "2h"                     # any sync limit of [runtime] may be set per tenant
//	  [tenants.sync]                        # required when mode = "sync", forbidden otherwise
//	  interval = "1h"                       # from one sync's start to the next, at least 1m
//	  output = "/var/lib/baton-runner/acme-prod.c1z"
//	  [tenants.service]                     # required when mode = "service", forbidden otherwise
//	  client_id = "env:ACME_C1_CLIENT_ID"   # a reference, or the id itself (it is not secret)
//	  client_secret = "env:ACME_C1_SECRET"  # a reference only
//
// A tenant of a baton-sdk connector ([connectors.X] kind = "baton-sdk")
// has no base_url, token or entitlement_ids; it takes instead:
//
//	origins = ["https://api.example.com", "https://auth.example.com"]  # the only API origins it may reach;
//	                                        #   the first takes requests that name none; none = no network
//	connect_to = ["api.example.com:443:127.0.0.1:8443"]  # curl's --connect-to: dial this address for
//	                                        #   that origin, whose name the request and TLS check keep
//	ca_file = "staging-ca.pem"              # PEM CAs trusted, besides the system's, for the origins
//	reveal_secrets = ["signing-key"]        # secret fields the connector receives the values of, for one
//	                                        #   that computes with a secret (signs a JWT): a weaker
//	                                        #   guarantee than placeholders (SECURITY.md, Secrets)
//	  [tenants.config]                      # the connector's fields, as its --flags name them
//	  domain = "acme.example.com"           # a string, an integer, a boolean or an array of strings,
//	  page-size = 100                       #   as the field's type; any value may be a reference
//	  api-key = "env:ACME_API_KEY"          # a secret field MUST be a reference, as token is
//
// Load checks these keys and the values' TOML types; the fields
// themselves are the module's, so CheckSchemas checks them once it is
// compiled (`config check` and serve do): an unknown field, a missing
// required one, a value of the wrong type and a secret written inline are
// each an *Error at its line, each constraint between fields the
// connector declares and the tenant breaks (required together, mutually
// exclusive, at least one, dependent on; decided by baton-sdk's own
// field.Validate) one at [tenants.config]'s, and a reveal_secrets entry
// that is not a secret field [tenants.config] sets one at its own. The kind is declared rather than learnt
// from the module so that Load needs no compilation to check every key
// and report it with its line; CheckSchemas reports a module of the other
// kind. A string value starting with "env:" or "file:" is a reference.
//
// Durations are Go duration strings ("90s", "5m", "1h30m"). Relative paths
// (cache_dir, wasm, output, file: references) are relative to the directory
// of the configuration file, not to the daemon's working directory. base_url
// must be scheme://host[:port] with no path; plain http is accepted only for
// a loopback host (127.0.0.1, ::1, localhost), as the egress client requires.
//
// # Secrets
//
// Secrets are never written in the file: token, client_secret and a
// baton-sdk connector's secret fields must be references, "env:VAR" (an environment variable) or "file:/path" (a file's
// contents, without one trailing newline). An inline value is an error,
// and the error does not repeat it. Load keeps references as SecretRef,
// which never holds a value; SecretRef.Resolve reads the value when a
// tenant starts (the runner keeps it as a host/secret.Secret, which never
// prints), and Config.CheckSecrets resolves them all up front.
//
// # Errors
//
// Load and Parse report every problem at once, each an *Error printed as
// "runner.toml:14: tenants[2].sync.interval: must be at least 1m", joined
// with errors.Join. Unknown keys, wrong types, syntax errors and invalid
// values all give the line of the key concerned; problems about something
// missing point at the table that lacks it.
package config
