//! What every parse target checks: any bytes under any declared charset, read as one format (or
//! sniffed), must give items or an error, never a panic; every item must normalize, and an item
//! normalize lets through must show exactly the text it stores.

pub fn parse_and_normalize(data: &[u8], format: Option<verbatim_parse::Format>) {
    const CHARSETS: [&str; 6] = [
        "utf-8",
        "iso-8859-1",
        "windows-1254",
        "shift_jis",
        "utf-16le",
        "gb18030",
    ];
    let (charset, bytes) = match data.split_first() {
        Some((selector, rest)) => (CHARSETS[*selector as usize % CHARSETS.len()], rest),
        None => ("utf-8", data),
    };
    let content_type = format!("application/xml; charset={charset}");
    let input = verbatim_parse::Input {
        bytes,
        content_type: Some(&content_type),
        origin: "fuzz",
    };
    let Ok(parsed) = verbatim_parse::parse_as(input, format, &verbatim_parse::Limits::default())
    else {
        return;
    };
    for draft in parsed.drafts {
        let normalized = verbatim_normalize::normalize(draft);
        if normalized.holds.is_empty() {
            assert_eq!(
                verbatim_normalize::visible_text(&normalized.item.body_html),
                normalized.item.body_text
            );
        }
    }
}
