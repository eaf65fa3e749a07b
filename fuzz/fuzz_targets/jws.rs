//! `authgate::fuzz_entry::jws`: see its doc for the input and the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| authgate::fuzz_entry::jws(data));
