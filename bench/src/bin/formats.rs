//! parse + normalize throughput for the IPTC formats (ninjs, NewsML-G2, NITF), each next to the
//! bare tokenizer reading the same bytes in the same run (serde_json into `Value`; quick-xml
//! reading every event): how close each parser gets to the ceiling.
//!
//! Run: `cargo run --release -p bench --bin formats -- [--mb 5] [--rounds 7]`.

use std::time::{Duration, Instant};

/// jemalloc, as in the `verbatim` binary: allocation is a large share of parsing, and the figures
/// should be those of the allocator Verbatim runs with. The peers run in this process with it too.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let mut megabytes = 5usize;
    let mut rounds = 7usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|value| value.parse().ok());
        match (arg.as_str(), value) {
            ("--mb", Some(value)) => megabytes = value,
            ("--rounds", Some(value)) => rounds = value,
            _ => {
                eprintln!("usage: formats [--mb N] [--rounds N]");
                std::process::exit(2);
            }
        }
    }
    let target = megabytes * 1024 * 1024;
    println!(
        "IPTC formats, >= {megabytes} MB each, median of {rounds} rounds after a warm-up, one thread"
    );
    println!(
        "{:<10} {:<34} {:>10} {:>9} {:>12}",
        "format", "run", "median ms", "MB/s", "vs ceiling"
    );
    for format in [Format::Ninjs, Format::NewsMlG2, Format::Nitf] {
        let (payloads, stories) = generate(format, target);
        let bytes: usize = payloads.iter().map(Vec::len).sum();
        let megabytes = bytes as f64 / (1024.0 * 1024.0);
        let ceiling = measure(rounds, || {
            for payload in &payloads {
                tokenize(format, payload);
            }
        });
        let parse_only = measure(rounds, || {
            let read: usize = payloads.iter().map(|payload| parse(payload).len()).sum();
            assert_eq!(
                read,
                stories,
                "{}: parse read {read} of {stories}",
                format.name()
            );
        });
        let normalized = measure(rounds, || {
            let mut published = 0;
            for payload in &payloads {
                for draft in parse(payload) {
                    let normalized = verbatim_normalize::normalize(draft);
                    if normalized.holds.is_empty() {
                        published += 1;
                    }
                }
            }
            assert_eq!(
                published,
                stories,
                "{}: every story normalizes unheld",
                format.name()
            );
        });
        let rows = [
            ("tokenizer only (ceiling)", ceiling),
            ("Verbatim parse", parse_only),
            ("Verbatim parse + normalize", normalized),
        ];
        for (name, time) in rows {
            let ms = time.as_secs_f64() * 1000.0;
            println!(
                "{:<10} {:<34} {:>10.1} {:>9.1} {:>11.3}×",
                format.name(),
                name,
                ms,
                megabytes / time.as_secs_f64(),
                ceiling.as_secs_f64() / time.as_secs_f64()
            );
        }
        let drafts: Vec<verbatim_item::Draft> =
            payloads.iter().flat_map(|payload| parse(payload)).collect();
        let (one_scan, bodies) = bench::bodies_in_one_scan(&drafts);
        println!(
            "{:<10} ({} payloads, {:.1} MB, {} stories; {one_scan} of {bodies} bodies sanitized in one scan)",
            "",
            payloads.len(),
            megabytes,
            stories
        );
    }
}

#[derive(Clone, Copy)]
enum Format {
    Ninjs,
    NewsMlG2,
    Nitf,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Ninjs => "ninjs",
            Format::NewsMlG2 => "newsml-g2",
            Format::Nitf => "nitf",
        }
    }
}

fn parse(payload: &[u8]) -> Vec<verbatim_item::Draft> {
    match verbatim_parse::parse(
        verbatim_parse::Input {
            bytes: payload,
            content_type: None,
            origin: "bench",
        },
        &verbatim_parse::Limits::default(),
    ) {
        Ok(parsed) => parsed.drafts,
        Err(error) => panic!("{error}"),
    }
}

/// The ceiling: the tokenizer alone over the same bytes.
fn tokenize(format: Format, payload: &[u8]) {
    match format {
        Format::Ninjs => {
            for value in
                serde_json::Deserializer::from_slice(payload).into_iter::<serde_json::Value>()
            {
                std::hint::black_box(value.is_ok());
            }
        }
        Format::NewsMlG2 | Format::Nitf => {
            let mut reader = quick_xml::Reader::from_reader(payload);
            let mut buffer = Vec::new();
            loop {
                match reader.read_event_into(&mut buffer) {
                    Ok(quick_xml::events::Event::Eof) | Err(_) => break,
                    Ok(event) => {
                        std::hint::black_box(&event);
                    }
                }
                buffer.clear();
            }
        }
    }
}

fn measure(rounds: usize, mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// A deterministic pseudo-random sequence (xorshift), so every run reads the same input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.next() % words.len()]
    }
}

const LATIN: &[&str] = &[
    "the", "council", "approved", "budget", "minister", "said", "on", "Tuesday", "after", "talks",
    "with", "unions", "over", "pay", "rise", "of", "3.5%", "in", "Oslo", "&", "Zürich", "café",
    "naïve", "São", "Paulo",
];
const ARABIC: &[&str] = &[
    "قال",
    "الوزير",
    "إن",
    "الميزانية",
    "ستزيد",
    "العام",
    "المقبل",
];
const JAPANESE: &[&str] = &["東京", "政府は", "予算案を", "閣議決定した", "と発表した"];
const EXTRAS: &[&str] = &["e\u{301}", "👩‍👩‍👧", "co\u{ad}operation", "10\u{a0}km", "🇳🇴"];

fn sentence(rng: &mut Rng) -> String {
    let script = match rng.next() % 6 {
        0 => ARABIC,
        1 => JAPANESE,
        _ => LATIN,
    };
    let mut words: Vec<&str> = (0..8 + rng.next() % 10).map(|_| rng.pick(script)).collect();
    words.push(rng.pick(EXTRAS));
    let mut text = words.join(" ");
    text.push('.');
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Paragraphs of XHTML: the shape of a wire story's body.
fn body_html(rng: &mut Rng) -> String {
    (0..6)
        .map(|index| {
            let text = escape(&sentence(rng));
            match index {
                2 => format!("<p>{text} <a href=\"https://wire.test/more\">More</a></p>"),
                4 => format!("<h2>{}</h2><p>{text}</p>", escape(&sentence(rng))),
                _ => format!("<p>{text} {}</p>", escape(&sentence(rng))),
            }
        })
        .collect()
}

/// Payloads of at least `target` bytes, and the number of stories in them.
fn generate(format: Format, target: usize) -> (Vec<Vec<u8>>, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut stories = 0;
    match format {
        Format::Ninjs => {
            // Newline-delimited ninjs 2.x items: one payload, as an agency stream delivers.
            let mut out = String::new();
            while out.len() < target {
                let item = serde_json::json!({
                    "uri": format!("urn:newsml:wire.test:2026:{stories}"),
                    "type": "text",
                    "version": (1 + stories % 4).to_string(),
                    "versioncreated": "2026-11-24T10:00:00Z",
                    "pubstatus": "usable",
                    "urgency": 1 + stories % 8,
                    "language": "en",
                    "headlines": [{ "role": "main", "value": sentence(&mut rng) }],
                    "by": "Wire staff",
                    "located": "Oslo",
                    "subjects": [{ "name": "politics", "uri": "medtop:11000000" }],
                    "copyrightnotice": "© 2026 Wire",
                    "bodies": [{ "role": "main", "contenttype": "text/html", "value": body_html(&mut rng) }],
                });
                out.push_str(&item.to_string());
                out.push('\n');
                stories += 1;
            }
            (vec![out.into_bytes()], stories)
        }
        Format::NewsMlG2 => {
            let mut out = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<newsMessage xmlns=\"http://iptc.org/std/nar/2006-10-01/\"><header><sent>2026-11-24T10:00:00Z</sent></header><itemSet>\n",
            );
            while out.len() < target {
                out.push_str(&format!(
                    "<newsItem guid=\"urn:newsml:wire.test:2026:{stories}\" version=\"1\" standard=\"NewsML-G2\" standardversion=\"2.29\">\
<catalogRef href=\"http://www.iptc.org/std/catalog/catalog.IPTC-G2-Standards_41.xml\"/>\
<itemMeta><itemClass qcode=\"ninat:text\"/><versionCreated>2026-11-24T10:00:00Z</versionCreated><pubStatus qcode=\"stat:usable\"/></itemMeta>\
<contentMeta><urgency>3</urgency><headline>{}</headline><by>Wire staff</by><located><name>Oslo</name></located><language tag=\"en\"/>\
<subject type=\"cpnat:abstract\" qcode=\"medtop:11000000\"><name>politics</name></subject></contentMeta>\
<contentSet><inlineXML contenttype=\"application/xhtml+xml\"><html xmlns=\"http://www.w3.org/1999/xhtml\"><body>{}</body></html></inlineXML></contentSet></newsItem>\n",
                    escape(&sentence(&mut rng)),
                    body_html(&mut rng)
                ));
                stories += 1;
            }
            out.push_str("</itemSet></newsMessage>\n");
            (vec![out.into_bytes()], stories)
        }
        Format::Nitf => {
            // NITF carries one story per document: many small payloads.
            let mut payloads = Vec::new();
            let mut total = 0;
            while total < target {
                let body: String = (0..3).map(|_| body_html(&mut rng)).collect();
                let document = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nitf version=\"-//IPTC//DTD NITF 3.6//EN\"><head><title>{title}</title>\
<docdata><doc-id id-string=\"wire-{stories}\"/><urgency ed-urg=\"3\"/><date.issue norm=\"20261124T100000Z\"/><du-key version=\"1\"/>\
<doc.copyright holder=\"Wire\"/></docdata></head><body><body.head><hedline><hl1>{title}</hl1></hedline>\
<byline>Wire staff</byline><dateline><location>Oslo</location></dateline></body.head>\
<body.content>{body}</body.content><body.end><tagline>(c) Wire</tagline></body.end></body></nitf>\n",
                    title = escape(&sentence(&mut rng)),
                );
                total += document.len();
                payloads.push(document.into_bytes());
                stories += 1;
            }
            (payloads, stories)
        }
    }
}
