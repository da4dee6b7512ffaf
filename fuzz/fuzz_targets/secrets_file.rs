//! The `.secrets` (dotenv) file of the SDK and `hush run`: see
//! `hush_client::fuzz::secrets_file_check` for the checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hush_client::fuzz::secrets_file_check(data));
