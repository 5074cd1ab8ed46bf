//! Fuzz target `revocation_event`: arbitrary bytes into [`tessera_e2e::fuzz::revocation_event`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::revocation_event(data));
