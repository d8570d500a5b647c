//! Character encodings: turns payload bytes into text following the XML media-type rules
//! (RFC 7303): a byte-order mark wins, then the HTTP `charset`, then the XML declaration, then
//! UTF-8. Bytes that are not valid in the chosen encoding are reported, never silently replaced.
//! Every encoding of the WHATWG Encoding Standard is read (through encoding_rs), and UTF-32,
//! which that standard leaves out but XML 1.0 (Appendix F) names, is decoded here.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// An encoding a payload can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Whatwg(&'static Encoding),
    Utf32Le,
    Utf32Be,
}

impl Charset {
    pub fn name(self) -> &'static str {
        match self {
            Charset::Whatwg(encoding) => encoding.name(),
            Charset::Utf32Le => "UTF-32LE",
            Charset::Utf32Be => "UTF-32BE",
        }
    }

    fn for_label(label: &str) -> Option<Charset> {
        match label.trim().to_ascii_lowercase().as_str() {
            "utf-32le" | "utf32le" => Some(Charset::Utf32Le),
            // UTF-32 without an order mark is big-endian (Unicode §3.10).
            "utf-32be" | "utf32be" | "utf-32" | "utf32" | "ucs-4" | "iso-10646-ucs-4" => {
                Some(Charset::Utf32Be)
            }
            other => Encoding::for_label(other.as_bytes()).map(Charset::Whatwg),
        }
    }
}

/// A payload as text, with the encoding used and, if the bytes were not valid in it, why.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    /// The payload itself when it was already valid UTF-8 (no copy), else the decoded text.
    pub text: std::borrow::Cow<'a, str>,
    pub encoding: Charset,
    /// Where the encoding came from: `BOM`, `HTTP charset`, `XML declaration` or `default`.
    pub encoding_from: &'static str,
    /// Set when some bytes were not valid in the encoding; the text then holds U+FFFD for them
    /// and every item read from it must be held.
    pub invalid: Option<String>,
}

/// Decodes a payload. `http_charset` is the `charset` parameter of the HTTP `Content-Type`, if any.
pub fn decode<'a>(bytes: &'a [u8], http_charset: Option<&str>) -> Decoded<'a> {
    let (charset, encoding_from, body) = if let Some((charset, bom_len)) = charset_of_bom(bytes) {
        (charset, "BOM", &bytes[bom_len..])
    } else if let Some(charset) = http_charset.and_then(Charset::for_label) {
        (charset, "HTTP charset", bytes)
    } else if let Some(charset) = sniff_without_bom(bytes) {
        (charset, "XML declaration", bytes)
    } else if let Some(charset) = declared_encoding(bytes) {
        // A declaration readable as ASCII cannot truthfully say UTF-16 or UTF-32 (real ones
        // without a BOM were sniffed above): such documents are in an ASCII-compatible encoding.
        match charset {
            Charset::Whatwg(encoding) if encoding != UTF_16LE && encoding != UTF_16BE => {
                (charset, "XML declaration", bytes)
            }
            _ => (Charset::Whatwg(UTF_8), "XML declaration", bytes),
        }
    } else {
        (Charset::Whatwg(UTF_8), "default", bytes)
    };
    let offset_base = bytes.len() - body.len();
    let invalid = |encoding_name: &str, offset: usize| {
        format!(
            "the payload is not valid {encoding_name} ({encoding_from}): first invalid byte at offset {}",
            offset + offset_base
        )
    };
    match charset {
        Charset::Whatwg(encoding) => {
            match encoding.decode_without_bom_handling_and_without_replacement(body) {
                Some(text) => Decoded {
                    text,
                    encoding: charset,
                    encoding_from,
                    invalid: None,
                },
                None => {
                    let offset = first_invalid_offset(encoding, body);
                    let (text, _) = encoding.decode_without_bom_handling(body);
                    Decoded {
                        text: std::borrow::Cow::Owned(text.into_owned()),
                        encoding: charset,
                        encoding_from,
                        invalid: Some(invalid(encoding.name(), offset)),
                    }
                }
            }
        }
        Charset::Utf32Le | Charset::Utf32Be => {
            let (text, first_bad) = decode_utf32(body, charset == Charset::Utf32Be);
            Decoded {
                text: std::borrow::Cow::Owned(text),
                encoding: charset,
                encoding_from,
                invalid: first_bad.map(|offset| invalid(charset.name(), offset)),
            }
        }
    }
}

/// A byte-order mark: UTF-32 ones are checked first, since UTF-32LE's begins like UTF-16LE's.
fn charset_of_bom(bytes: &[u8]) -> Option<(Charset, usize)> {
    match bytes {
        [0x00, 0x00, 0xFE, 0xFF, ..] => Some((Charset::Utf32Be, 4)),
        [0xFF, 0xFE, 0x00, 0x00, ..] => Some((Charset::Utf32Le, 4)),
        _ => Encoding::for_bom(bytes).map(|(encoding, length)| (Charset::Whatwg(encoding), length)),
    }
}

/// UTF-32 code units to text; invalid units (not scalar values, or a truncated tail) become
/// U+FFFD and the offset of the first is returned.
fn decode_utf32(body: &[u8], big_endian: bool) -> (String, Option<usize>) {
    let mut text = String::with_capacity(body.len() / 4);
    let mut first_bad = None;
    let mut units = body.chunks_exact(4);
    for (index, unit) in units.by_ref().enumerate() {
        let unit = [unit[0], unit[1], unit[2], unit[3]];
        let code = if big_endian {
            u32::from_be_bytes(unit)
        } else {
            u32::from_le_bytes(unit)
        };
        match char::from_u32(code) {
            Some(ch) => text.push(ch),
            None => {
                first_bad.get_or_insert(index * 4);
                text.push('\u{FFFD}');
            }
        }
    }
    if !units.remainder().is_empty() {
        first_bad.get_or_insert(body.len() - units.remainder().len());
        text.push('\u{FFFD}');
    }
    (text, first_bad)
}

/// UTF-16 and UTF-32 without a BOM, by the byte pattern of `<?` (XML 1.0 Appendix F).
fn sniff_without_bom(bytes: &[u8]) -> Option<Charset> {
    match bytes {
        [b'<', 0, 0, 0, b'?', 0, 0, 0, ..] => Some(Charset::Utf32Le),
        [0, 0, 0, b'<', 0, 0, 0, b'?', ..] => Some(Charset::Utf32Be),
        [b'<', 0, b'?', 0, ..] => Some(Charset::Whatwg(UTF_16LE)),
        [0, b'<', 0, b'?', ..] => Some(Charset::Whatwg(UTF_16BE)),
        _ => None,
    }
}

/// The `encoding` pseudo-attribute of an XML declaration at the very start of the payload.
fn declared_encoding(bytes: &[u8]) -> Option<Charset> {
    let head = &bytes[..bytes.len().min(512)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let label = after[1..].split(quote).next()?;
    Charset::for_label(label)
}

fn first_invalid_offset(encoding: &'static Encoding, body: &[u8]) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut scratch = String::with_capacity(4096);
    let mut read_total = 0;
    loop {
        scratch.clear();
        let (result, read) =
            decoder.decode_to_string_without_replacement(&body[read_total..], &mut scratch, true);
        read_total += read;
        match result {
            encoding_rs::DecoderResult::Malformed(bad, after) => {
                return read_total.saturating_sub(bad as usize + after as usize);
            }
            encoding_rs::DecoderResult::InputEmpty => return read_total,
            encoding_rs::DecoderResult::OutputFull => {
                if read == 0 {
                    scratch.reserve(4096);
                }
            }
        }
    }
}

/// The `charset` parameter of a `Content-Type` header value.
pub fn charset_of_content_type(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            // Servers quote it with either kind of quote.
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_wins_over_everything() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><a>\xC3\xA9</a>");
        let decoded = decode(&bytes, Some("windows-1252"));
        assert_eq!(decoded.encoding_from, "BOM");
        assert!(decoded.text.contains("<a>é</a>"));
    }

    #[test]
    fn http_charset_beats_declaration() {
        let decoded = decode(
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?><a>\xE9</a>",
            Some("iso-8859-1"),
        );
        assert_eq!(decoded.encoding_from, "HTTP charset");
        assert!(decoded.text.contains("<a>é</a>"));
        assert!(decoded.invalid.is_none());
    }

    #[test]
    fn declaration_is_used_and_turkish_works() {
        let decoded = decode(
            b"<?xml version='1.0' encoding='windows-1254'?><a>\xFE\xF0\xDD</a>",
            None,
        );
        assert_eq!(decoded.encoding.name(), "windows-1254");
        assert!(decoded.text.contains("<a>şğİ</a>"), "{}", decoded.text);
    }

    #[test]
    fn invalid_bytes_are_reported_with_offset() {
        let decoded = decode(b"<a>ok \xFF\xFE bad</a>", None);
        let reason = decoded.invalid.unwrap_or_default();
        assert!(reason.contains("UTF-8"), "{reason}");
        assert!(reason.contains("offset 6"), "{reason}");
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<a>日本</a>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&bytes, None).text, "<a>日本</a>");
    }

    #[test]
    fn utf32_by_bom_by_pattern_and_with_bad_units() {
        let text = "<?xml version=\"1.0\"?><a>日本 👩‍👩‍👧</a>";
        let units = |big: bool| -> Vec<u8> {
            text.chars()
                .flat_map(|ch| {
                    if big {
                        (ch as u32).to_be_bytes()
                    } else {
                        (ch as u32).to_le_bytes()
                    }
                })
                .collect()
        };
        let mut with_bom = vec![0xFF, 0xFE, 0x00, 0x00];
        with_bom.extend(units(false));
        let decoded = decode(&with_bom, None);
        assert_eq!(
            (decoded.text.as_ref(), decoded.encoding.name()),
            (text, "UTF-32LE")
        );
        let big_endian = units(true);
        let decoded = decode(&big_endian, None);
        assert_eq!(
            (decoded.text.as_ref(), decoded.encoding.name()),
            (text, "UTF-32BE")
        );
        assert!(decoded.invalid.is_none());
        let mut bad = units(true);
        bad.extend_from_slice(&[0x00, 0x11, 0x00, 0x00, 0x00]);
        let decoded = decode(&bad, None);
        assert!(
            decoded
                .invalid
                .is_some_and(|reason| reason.contains("UTF-32BE")),
            "an invalid code unit is reported"
        );
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of_content_type("application/rss+xml; charset=\"ISO-8859-1\""),
            Some("ISO-8859-1")
        );
        assert_eq!(charset_of_content_type("text/xml"), None);
    }
}
