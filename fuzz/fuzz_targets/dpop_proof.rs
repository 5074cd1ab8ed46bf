//! Fuzz target `dpop_proof`: arbitrary bytes into [`tessera_e2e::fuzz::dpop_proof`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_e2e::fuzz::dpop_proof(data));
