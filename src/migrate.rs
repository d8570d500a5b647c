//! `verbatim migrate` applies the store's migrations and stops; `verbatim migrate-store` moves an
//! embedded installation (SQLite and its raw archive folder) into PostgreSQL, with a progress
//! bar and a row count check at the end; `verbatim nodes` shows the nodes sharing a store.

use crate::BadInput;
use anyhow::{Context, Result};
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use verbatim_store::{PostgresStore, SqliteStore, Store};

/// `verbatim migrate`: opening a store applies its pending migrations (under PostgreSQL's
/// advisory lock, so nodes starting at once are safe).
pub async fn migrate_command(context: &crate::Setup) -> Result<ExitCode> {
    let store = context.open_store().await?;
    let counts = store.counts().await?;
    println!(
        "{}: migrations applied ({} stories, {} versions, {} sources)",
        context.store_description(),
        counts.stories,
        counts.versions,
        counts.sources
    );
    Ok(ExitCode::SUCCESS)
}

/// `verbatim migrate-store --from sqlite://… --to postgres://…`.
pub async fn migrate_store_command(
    from: &str,
    to: &str,
    raw: Option<&Path>,
    json: bool,
) -> Result<ExitCode> {
    let Some(from_path) = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
    else {
        return Err(BadInput(format!("--from must be a sqlite:// URL, not {from:?}")).into());
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(BadInput(format!("--to must be a postgres:// URL, not {to:?}")).into());
    }
    let from_path = PathBuf::from(from_path.split('?').next().unwrap_or(from_path));
    if !from_path.is_file() {
        return Err(BadInput(format!("no SQLite store at {}", from_path.display())).into());
    }
    // The archive folder beside the database (the layout of a data folder), unless named.
    let raw_dir = raw.map(Path::to_path_buf).unwrap_or_else(|| {
        from_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("raw")
    });
    let source = SqliteStore::open(&from_path)
        .await
        .with_context(|| format!("cannot open {}", from_path.display()))?;
    let target = PostgresStore::open_url(to)
        .await
        .context("cannot open the PostgreSQL store")?;

    let bar = progress_bar(json);
    let mut progress = |step: verbatim_store::CopyProgress| {
        bar.set_length(step.total.max(0) as u64);
        bar.set_position(step.copied.max(0) as u64);
        bar.set_message(step.table.to_string());
    };
    let report = verbatim_store::copy_sqlite_to_postgres(&source, &target, &mut progress)
        .await
        .context("the copy failed; the PostgreSQL side was left unchanged")?;
    bar.finish_and_clear();

    // The raw archive: every payload the SQLite side recorded, into the database.
    let (copied, missing) = copy_raw_archive(&raw_dir, &target, json).await?;
    let counts_before = source.counts().await?;
    let counts_after = target.counts().await?;
    let counts_match = counts_before.stories == counts_after.stories
        && counts_before.versions == counts_after.versions
        && counts_before.sources == counts_after.sources
        && counts_before.raw_payloads == counts_after.raw_payloads;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "tables": report.tables.iter().map(|(table, from, to)| serde_json::json!({
                    "table": table, "from": from, "to": to,
                })).collect::<Vec<_>>(),
                "raw_payloads_copied": copied,
                "raw_payloads_missing": missing,
                "counts_match": counts_match,
            })
        );
    } else {
        for (table, from, to) in &report.tables {
            println!("{table:<22} {from:>10} → {to:>10}");
        }
        println!(
            "raw archive: {copied} payload(s) copied from {}{}",
            raw_dir.display(),
            if missing > 0 {
                format!(", {missing} recorded but missing from the folder")
            } else {
                String::new()
            }
        );
        println!(
            "counts {}: {} stories, {} versions, {} sources, {} payloads",
            if counts_match { "match" } else { "DIFFER" },
            counts_after.stories,
            counts_after.versions,
            counts_after.sources,
            counts_after.raw_payloads
        );
    }
    Ok(if counts_match && missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn progress_bar(hidden: bool) -> indicatif::ProgressBar {
    let bar = if hidden {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("copying {msg:<20} {bar:40} {pos}/{len}")
    {
        bar.set_style(style);
    }
    bar
}

/// Copies every payload file of a file archive into the database; returns (copied, missing).
/// A file whose bytes no longer match its name is an error: it is not the payload recorded.
async fn copy_raw_archive(dir: &Path, target: &PostgresStore, json: bool) -> Result<(u64, u64)> {
    let mut files = Vec::new();
    if dir.is_dir() {
        for prefix in std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the archive {}", dir.display()))?
        {
            let prefix = prefix?.path();
            if !prefix.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&prefix)? {
                let path = file?.path();
                let is_payload =
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| {
                            name.len() == 64 && name.bytes().all(|byte| byte.is_ascii_hexdigit())
                        });
                if is_payload {
                    files.push(path);
                }
            }
        }
    }
    let bar = progress_bar(json);
    bar.set_length(files.len() as u64);
    bar.set_message("raw archive");
    let mut copied = 0;
    for path in &files {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if verbatim_item::sha256_hex(&bytes) != name {
            anyhow::bail!(
                "{}: the payload's bytes no longer match its name; the archive is damaged",
                path.display()
            );
        }
        target.put_raw_bytes(name, &bytes).await?;
        copied += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    // Recorded payloads with no bytes on the PostgreSQL side (a payload the SQLite side kept in
    // its own table came across with the tables).
    let missing = target.raw_payloads_without_bytes().await?;
    Ok((copied, missing.max(0) as u64))
}

/// `verbatim nodes`: the live nodes of the store and the leases each holds.
pub async fn nodes_command(context: &crate::Setup, json: bool) -> Result<ExitCode> {
    let store = context.open_store().await?;
    let now = Utc::now();
    let leases = store.leases("", now).await?;
    let nodes: Vec<&verbatim_store::Lease> = leases
        .iter()
        .filter(|lease| lease.name.starts_with("node:"))
        .collect();
    let report: Vec<serde_json::Value> = nodes
        .iter()
        .map(|node| {
            let held: Vec<&str> = leases
                .iter()
                .filter(|lease| lease.node == node.node && !lease.name.starts_with("node:"))
                .map(|lease| lease.name.as_str())
                .collect();
            serde_json::json!({
                "node": node.node,
                "alive_until": verbatim_store::format_time(node.until),
                "sources": held.iter().filter_map(|name| name.strip_prefix("poll:")).collect::<Vec<_>>(),
                "roles": held.iter().filter(|name| !name.starts_with("poll:")).collect::<Vec<_>>(),
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::Value::Array(report));
    } else if report.is_empty() {
        println!("no node is running on this store");
    } else {
        for node in &report {
            println!(
                "{}  sources: {}  roles: {}",
                node["node"].as_str().unwrap_or_default(),
                node["sources"].as_array().map_or(0, Vec::len),
                node["roles"]
                    .as_array()
                    .map(|roles| roles
                        .iter()
                        .filter_map(|role| role.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
