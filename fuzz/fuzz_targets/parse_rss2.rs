//! The rss2 parser on any bytes (the format is forced, so every input reaches it).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::parse_and_normalize(data, Some(verbatim_parse::Format::Rss2));
});
