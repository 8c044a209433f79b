#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corp_fuzz::resource_metadata(data));
