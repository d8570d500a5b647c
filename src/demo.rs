//! `verbatim demo`: fills a data folder from sample feeds bundled in the binary (fictional
//! agencies, every supported format, several scripts) and serves it.

use crate::pipeline::Received;
use crate::{GlobalArgs, Setup, ensure_source};
use anyhow::Result;
use std::net::SocketAddr;
use std::process::ExitCode;
use verbatim_store::SourceKind;

/// (source name, file name, bytes) of each bundled sample feed. The stories are invented.
pub const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "nordic-wire",
        "nordic-wire.rss",
        include_str!("demo/nordic-wire.rss"),
    ),
    (
        "levant-presse",
        "levant-presse.atom",
        include_str!("demo/levant-presse.atom"),
    ),
    (
        "sakura-news",
        "sakura-news.json",
        include_str!("demo/sakura-news.json"),
    ),
    (
        "andes-press",
        "andes-press.rdf",
        include_str!("demo/andes-press.rdf"),
    ),
    (
        "baltic-news",
        "baltic-news.json",
        include_str!("demo/baltic-news.json"),
    ),
    (
        "sahel-info",
        "sahel-info.xml",
        include_str!("demo/sahel-info.xml"),
    ),
    (
        "alpine-presse",
        "alpine-presse.xml",
        include_str!("demo/alpine-presse.xml"),
    ),
];

/// The demo's routing: a section per region, so section pages and feeds have something in them.
const SECTIONS: &[(&str, &[&str])] = &[
    ("europe", &["nordic-wire", "baltic-news", "alpine-presse"]),
    ("middle-east-africa", &["levant-presse", "sahel-info"]),
    ("asia", &["sakura-news"]),
    ("americas", &["andes-press"]),
];

pub async fn run(
    global: &GlobalArgs,
    mut context: Setup,
    listen: Option<SocketAddr>,
) -> Result<ExitCode> {
    if global.data.is_none() {
        // Without --data the demo gets a folder of its own, never the operator's real one.
        context.data = std::env::temp_dir().join(format!("verbatim-demo-{}", std::process::id()));
    }
    if context.config.site.title.is_none() {
        context.config.site.title = Some("Verbatim demo — agency copy, word for word".to_string());
    }
    let store = context.open_store().await?;
    for (source, _, _) in SAMPLES {
        ensure_source(&*store, source, SourceKind::Inbox).await?;
    }
    if context.config.rules.is_empty() {
        context.config.rules = SECTIONS
            .iter()
            .map(|(section, sources)| verbatim_gate::RuleSpec {
                name: (*section).to_string(),
                source: sources.iter().map(|source| source.to_string()).collect(),
                sections: vec![(*section).to_string()],
                ..verbatim_gate::RuleSpec::default()
            })
            .collect();
    }
    let pipeline = context.pipeline().await?;
    for (source, file, text) in SAMPLES {
        let report = pipeline
            .ingest(Received::new(
                source,
                &format!("demo:{file}"),
                text.as_bytes().to_vec(),
            ))
            .await?;
        println!("{file}: {} item(s)", report.items.len());
    }
    println!("Demo data in {}", context.data.display());
    let listen = listen.unwrap_or_else(crate::config::default_listen);
    crate::serve(&context, listen, false, None).await?;
    Ok(ExitCode::SUCCESS)
}
