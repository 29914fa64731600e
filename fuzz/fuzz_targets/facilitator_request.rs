#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| t402_testkit::fuzz::facilitator_request(data));
