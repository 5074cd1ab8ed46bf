//! Fuzz target `client_certificate`: arbitrary bytes into [`tessera_e2e::fuzz::client_certificate`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::client_certificate(data));
