//! Fuzz target `form`: arbitrary bytes into [`tessera_e2e::fuzz::form`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::form(data));
