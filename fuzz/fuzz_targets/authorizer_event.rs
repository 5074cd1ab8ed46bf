//! Fuzz target `authorizer_event`: arbitrary bytes into [`tessera_e2e::fuzz::authorizer_event`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::authorizer_event(data));
