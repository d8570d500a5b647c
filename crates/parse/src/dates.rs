//! Dates as agencies really write them: RFC 3339 / ISO 8601 (with or without offset, with or
//! without seconds), RFC 822 / 2822 with named zones and missing weekdays, and a few common
//! variants. A time without a zone is read as UTC. Unreadable dates give `None`, never an error.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a date-time in any of the supported forms.
pub fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    parse_usual_rfc2822(text).or_else(|| parse_any_form(text))
}

/// Every supported form, through chrono's parsers and then the lenient variants.
fn parse_any_form(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.with_timezone(&Utc));
    }
    parse_iso_variants(text).or_else(|| parse_rfc822_variants(text))
}

/// The shape nearly every RSS date has, `Tue, 24 Nov 2026 14:05:00 GMT` (or `+0100`), read
/// by hand: chrono's RFC 2822 parser goes through its general format machinery, which a
/// profile put at 3.8 % of parsing a feed. `None` means "not this shape", and the caller then
/// tries every form; whenever this gives a date, the full path gives the same one (a property
/// test holds it to that), so it only decides faster.
fn parse_usual_rfc2822(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    // A weekday is left out of the result on the full path too: chrono checks it against the
    // date, and when they disagree the lenient variants drop it.
    let rest = match bytes {
        [a, b, c, b',', b' ', rest @ ..] if is_weekday(&[*a, *b, *c]) => rest,
        _ => bytes,
    };
    let (day, rest) = match rest {
        [d0, b' ', rest @ ..] if d0.is_ascii_digit() => (u32::from(d0 - b'0'), rest),
        [d0, d1, b' ', rest @ ..] if d0.is_ascii_digit() && d1.is_ascii_digit() => {
            (u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'), rest)
        }
        _ => return None,
    };
    let [
        m0,
        m1,
        m2,
        b' ',
        y0,
        y1,
        y2,
        y3,
        b' ',
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
        b' ',
        zone @ ..,
    ] = rest
    else {
        return None;
    };
    let month = MONTHS
        .iter()
        .position(|name| name.as_bytes() == [*m0, *m1, *m2])?;
    let year = digits([*y0, *y1, *y2, *y3])?;
    let (hour, minute, second) = (
        digits([*h0, *h1])?,
        digits([*n0, *n1])?,
        digits([*s0, *s1])?,
    );
    if !(1900..=2999).contains(&year) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_minutes: i32 = match zone {
        b"GMT" | b"UT" | b"UTC" => 0,
        [sign @ (b'+' | b'-'), z0, z1, z2, z3] => {
            let (hours, minutes) = (digits([*z0, *z1])?, digits([*z2, *z3])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let minutes = (hours * 60 + minutes) as i32;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    let naive = NaiveDate::from_ymd_opt(year as i32, month as u32 + 1, day)?
        .and_hms_opt(hour, minute, second)?;
    let utc = naive - chrono::TimeDelta::minutes(i64::from(offset_minutes));
    Some(Utc.from_utc_datetime(&utc))
}

/// The three-letter English month names, as RFC 2822 writes them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A three-letter English weekday name, in any case.
fn is_weekday(name: &[u8; 3]) -> bool {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .any(|day| day.as_bytes().eq_ignore_ascii_case(name))
}

/// The value of a run of ASCII digits, `None` if any is not one.
fn digits<const N: usize>(ascii: [u8; N]) -> Option<u32> {
    ascii.iter().try_fold(0u32, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

fn parse_iso_variants(text: &str) -> Option<DateTime<Utc>> {
    let with_t = text.replacen(' ', "T", 1);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y%m%dT%H%M%S%z",
    ] {
        if let Ok(date) = DateTime::<FixedOffset>::parse_from_str(&with_t, format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    let without_z = with_t.trim_end_matches(['Z', 'z']);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"] {
        if let Ok(date) = NaiveDateTime::parse_from_str(without_z, format) {
            return Some(Utc.from_utc_datetime(&date));
        }
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return date
                .and_hms_opt(0, 0, 0)
                .map(|date| Utc.from_utc_datetime(&date));
        }
    }
    None
}

/// The US and European zone abbreviations agencies put in RFC 822 dates, as offsets in minutes.
fn zone_offset_minutes(zone: &str) -> Option<i32> {
    let minutes = match zone.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "WET" => 0,
        "BST" | "CET" | "WEST" | "MET" => 60,
        "CEST" | "EET" | "MEST" => 120,
        "EEST" | "MSK" => 180,
        "EST" => -300,
        "EDT" | "AST" => -240,
        "CST" => -360,
        "CDT" => -300,
        "MST" => -420,
        "MDT" => -360,
        "PST" => -480,
        "PDT" => -420,
        "IST" => 330,
        "JST" | "KST" => 540,
        "AEST" => 600,
        "AEDT" => 660,
        _ => return None,
    };
    Some(minutes)
}

fn parse_rfc822_variants(text: &str) -> Option<DateTime<Utc>> {
    // Drop a weekday ("Tue," or "Tuesday,"), normalise separators.
    let cleaned = text.replace(',', " ");
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|word| word.chars().all(char::is_alphabetic) && month_number(word).is_none())
    {
        words.remove(0);
    }
    if words.len() < 4 {
        return None;
    }
    // Accept both "24 Nov 2026" and "Nov 24 2026".
    let (day, month, year) = match (words[0].parse::<u32>(), month_number(words[1])) {
        (Ok(day), Some(month)) => (day, month, words[2]),
        _ => (
            words[1].parse::<u32>().ok()?,
            month_number(words[0])?,
            words[2],
        ),
    };
    let year: i32 = match year.parse::<i32>().ok()? {
        short @ 0..=49 => 2000 + short,
        short @ 50..=99 => 1900 + short,
        full => full,
    };
    let time = words[3];
    let mut parts = time.split(':').map(|part| part.parse::<u32>());
    let hour = parts.next()?.ok()?;
    let minute = parts.next()?.ok()?;
    let second = parts.next().and_then(Result::ok).unwrap_or(0);
    let naive =
        NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second.min(59))?;
    let offset_minutes = match words.get(4) {
        None => 0,
        Some(zone) => numeric_offset(zone)
            .or_else(|| zone_offset_minutes(zone))
            .unwrap_or(0),
    };
    let offset = FixedOffset::east_opt(offset_minutes * 60)?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|date| date.with_timezone(&Utc))
}

fn numeric_offset(zone: &str) -> Option<i32> {
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits = digits.replace(':', "");
    if digits.len() != 4 || !digits.chars().all(|ch| ch.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some(sign * (hours * 60 + minutes))
}

/// The month a word names by its first three letters, in any case ("Nov", "november").
fn month_number(word: &str) -> Option<u32> {
    let prefix = word.as_bytes().get(..3)?;
    MONTHS
        .iter()
        .position(|month| month.as_bytes().eq_ignore_ascii_case(prefix))
        .map(|index| index as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(raw: &str) -> String {
        parse_date(raw)
            .map(|date| date.to_rfc3339())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn reads_the_forms_agencies_use() {
        let expected = "2026-11-24T14:05:00+00:00";
        assert_eq!(iso("2026-11-24T14:05:00Z"), expected);
        assert_eq!(iso("2026-11-24T15:05:00+01:00"), expected);
        assert_eq!(iso("2026-11-24 14:05:00"), expected);
        assert_eq!(iso("2026-11-24T14:05"), expected);
        assert_eq!(iso("Tue, 24 Nov 2026 14:05:00 GMT"), expected);
        assert_eq!(iso("Tue, 24 Nov 2026 09:05:00 EST"), expected);
        assert_eq!(iso("24 Nov 2026 14:05 +0000"), expected);
        assert_eq!(iso("Tuesday, 24 November 2026 15:05:00 CET"), expected);
        assert_eq!(iso("Tue, 24 Nov 26 14:05:00 UT"), expected);
        assert_eq!(iso("Nov 24 2026 14:05:00 GMT"), expected);
        assert_eq!(iso("20261124T140500Z"), expected);
        assert_eq!(iso("2026-11-24"), "2026-11-24T00:00:00+00:00");
        assert_eq!(iso("yesterday"), "none");
        assert_eq!(iso(""), "none");
    }

    #[test]
    fn the_usual_rss_shape_is_read_without_chrono() {
        let read = |raw: &str| parse_usual_rfc2822(raw).map(|date| date.to_rfc3339());
        let expected = Some("2026-11-24T14:05:00+00:00".to_string());
        assert_eq!(read("Tue, 24 Nov 2026 14:05:00 GMT"), expected);
        assert_eq!(read("24 Nov 2026 15:05:00 +0100"), expected);
        assert_eq!(read("Tue, 24 Nov 2026 09:05:00 -0500"), expected);
        // Not the usual shape: left to the full path.
        assert_eq!(read("Tue, 24 Nov 2026 09:05:00 EST"), None);
        assert_eq!(read("Tue, 24 Nov 26 14:05:00 GMT"), None);
        assert_eq!(read("Tue, 24 Nov 2026 14:05 GMT"), None);
        assert_eq!(read("Tue, 30 Feb 2026 14:05:00 GMT"), None);
        assert_eq!(read("Tue, 24 Nov 2026 23:59:60 GMT"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// Wherever the hand-read shape gives a date, the full path gives the same date.
        #[test]
        fn the_usual_shape_agrees_with_the_full_path(
            weekday in proptest::sample::select(vec!["", "Tue, ", "Mon, ", "tue, ", "TUE, ", "Nov, ", "Xyz, ", "Tuesday, ", "Tue,"]),
            day in proptest::sample::select(vec!["1", "01", "24", "29", "30", "31", "32", "0", "00", "124", "2x"]),
            month in proptest::sample::select(vec!["Jan", "Feb", "Nov", "Dec", "nov", "NOV", "Sept", "Xyz"]),
            year in proptest::sample::select(vec!["2026", "2024", "1899", "1900", "2999", "3000", "0000", "26", "20261"]),
            hour in 0u32..26,
            minute in 0u32..62,
            second in 0u32..62,
            zone in proptest::sample::select(vec!["GMT", "UT", "UTC", "Z", "EST", "+0000", "-0000", "+0100", "-0530", "+2359", "+2400", "+0060", "+01:00", "gmt", ""]),
        ) {
            let raw = format!("{weekday}{day} {month} {year} {hour:02}:{minute:02}:{second:02} {zone}");
            if let Some(date) = parse_usual_rfc2822(raw.trim()) {
                proptest::prop_assert_eq!(Some(date), parse_any_form(raw.trim()), "{}", raw);
            }
        }
    }
}
