//! Fuzz target `security_event_token`: arbitrary bytes into [`tessera_e2e::fuzz::security_event_token`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::security_event_token(data));
