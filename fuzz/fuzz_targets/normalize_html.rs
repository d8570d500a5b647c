//! Any HTML: sanitizing must never change the visible text, and must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|html: &str| {
    let source = verbatim_normalize::visible_text(html);
    let clean = verbatim_normalize::sanitize_html(html);
    assert_eq!(verbatim_normalize::visible_text(&clean), source);
});
