//! The streaming masker: see `hush_mask::fuzz_check` for the input layout and the checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hush_mask::fuzz_check(data));
