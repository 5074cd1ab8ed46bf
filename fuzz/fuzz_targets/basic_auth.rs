//! Fuzz target `basic_auth`: arbitrary bytes into [`tessera_e2e::fuzz::basic_auth`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::basic_auth(data));
