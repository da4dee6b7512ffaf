//! Every JSON request body of the API, decoded and checked as its handler does: the first
//! byte picks the route, the second the `Content-Type`, the rest is the body. See
//! `hush_server::fuzz::request_body_check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hush_server::fuzz::request_body_check(data));
