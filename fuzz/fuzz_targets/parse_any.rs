//! Any bytes, any declared charset, format sniffed: see `common.rs` for the properties.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::parse_and_normalize(data, None);
});
