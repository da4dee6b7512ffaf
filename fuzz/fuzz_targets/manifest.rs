//! `hush.toml` → a checked manifest: see `hush_core::manifest::fuzz_check` for the checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hush_core::manifest::fuzz_check(data));
