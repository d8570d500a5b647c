//! The one-scan sanitizer against the parsing one: for any markup the one-scan path accepts,
//! its markup and visible text must be byte for byte what the three-parse path gives, and that
//! path must find no fidelity failure in it.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: (bool, &str)| {
    let (has_base, html) = input;
    let Some(scanned) = verbatim_normalize::sanitize_body_in_one_pass(html, has_base) else {
        return;
    };
    let parsed = verbatim_normalize::sanitize_body_by_parsing(
        html,
        has_base.then_some("https://agency.test/wire/"),
    );
    assert_eq!(scanned, parsed, "{html:?}");
});
