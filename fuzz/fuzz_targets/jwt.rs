//! Fuzz target `jwt`: arbitrary bytes into [`tessera_e2e::fuzz::jwt`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::jwt(data));
