//! Any agency HTML as a story body: normalize must never panic, and when it does not hold the
//! item, the stored text must be exactly what the sanitized markup shows.
#![no_main]

use verbatim_item::{Draft, Item, SourceBody};

libfuzzer_sys::fuzz_target!(|html: &str| {
    let normalized = verbatim_normalize::normalize(Draft {
        item: Item {
            guid: "fuzz".into(),
            ..Item::default()
        },
        body: SourceBody::Html(html.to_string()),
        headline_is_html: false,
        holds: Vec::new(),
        base_url: None,
    });
    if normalized.holds.is_empty() {
        assert_eq!(
            verbatim_normalize::visible_text(&normalized.item.body_html),
            normalized.item.body_text
        );
    }
});
