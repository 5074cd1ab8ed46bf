//! The end-to-end suites, one module per suite, in one test binary: each test binary links the AWS SDK (some
//! 225 MB of debug binary, and a link, apiece). One suite alone: `cargo test -p tessera-e2e --test e2e -- http_flow::`.
//! A new suite is a file here and a `mod` line below. The suites that change process-wide state are binaries of
//! their own beside this directory (`tests/Cargo.toml` says why).

mod announcements;
mod authorizer;
mod bad_input;
mod client_assertion;
mod dpop;
mod dynamodb;
mod events;
mod exchange;
mod external;
mod faults;
mod form_differential;
mod fuzz_corpus;
mod http_flow;
mod inspect;
mod jwks_uri;
mod key_rotation;
mod memory_bound;
mod metrics;
mod mtls;
mod profiles;
mod races;
mod read_plan;
mod revocation_events;
mod round_trips;
mod signed_introspection;
mod ssf;
mod targets;
mod tenants;
mod token_identity;
mod userinfo;
