//! Any bytes, any declared charset: parsing must return items or an error, never panic, and every
//! item must normalize.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (charset, bytes) = match data.split_first() {
        Some((selector, rest)) => (["utf-8", "iso-8859-1", "windows-1254", "shift_jis", "utf-16le"][*selector as usize % 5], rest),
        None => ("utf-8", data),
    };
    let content_type = format!("application/xml; charset={charset}");
    if let Ok(parsed) = verbatim_parse::parse(
        verbatim_parse::Input { bytes, content_type: Some(&content_type), origin: "fuzz" },
        &verbatim_parse::Limits::default(),
    ) {
        for draft in parsed.drafts {
            let _ = verbatim_normalize::normalize(draft);
        }
    }
});
