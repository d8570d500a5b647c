//! The `verbatim` binary: the command line, configuration and the edges (files, network,
//! server) around the pure pipeline stages in `crates/`.

mod config;
mod demo;
mod index;
mod migrate;
mod node;
mod pipeline;
mod serve;
mod verify;
mod webhooks;
mod websub;

/// jemalloc instead of glibc's malloc: parsing runs on many threads, and glibc's per-thread
/// arenas kept what they freed — a 10,000-source `serve` stayed at 331 MB resident after its
/// first round, 154 MB with jemalloc (mimalloc: 242 MB). See BENCHMARKS.md, "scale".
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use config::Config;
use pipeline::{IngestReport, Pipeline, Received};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use verbatim_fetch::{FetchConfig, FetchOutcome, Fetcher, Validators};
use verbatim_publish::{AppState, SiteConfig};
use verbatim_store::{
    CommitKind, NewSource, RawArchive, SourceKind, SqliteStore, Store, StoreError, StoryState,
};

#[derive(Debug, Parser)]
#[command(
    name = "verbatim",
    version,
    about = "Publishes news-agency feeds automatically, word for word, and proves it."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// The data folder (database, raw archive, inbox).
    #[arg(long, global = true, value_name = "DIR", env = "VERBATIM_DATA")]
    data: Option<PathBuf>,
    /// The configuration file (TOML).
    #[arg(long, global = true, value_name = "FILE", env = "VERBATIM_CONFIG")]
    config: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER@HOST/DATABASE (default: DATA/verbatim.db).
    #[arg(long, global = true, value_name = "URL", env = "VERBATIM_STORE")]
    store: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a site on http://127.0.0.1:8080 filled from bundled sample feeds.
    Demo {
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Ingest (polling, push, inbox) and serve, in one process.
    Serve {
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Allow fetching from loopback, private and link-local addresses.
        #[arg(long)]
        allow_private_networks: bool,
    },
    /// One-shot ingest of files, folders or URLs; prints a summary.
    Ingest {
        #[arg(required = true, value_name = "PATH|URL")]
        inputs: Vec<String>,
        /// The source the items belong to (default: the file's name, or the URL's host).
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        /// Allow fetching from loopback, private and link-local addresses.
        #[arg(long)]
        allow_private_networks: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the canonical items of a file as JSON, one object per line; stores nothing.
    Parse {
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Say which format was detected and why (on standard error).
        #[arg(long)]
        explain: bool,
        /// Read the file as this format instead of detecting it.
        #[arg(long, value_name = "FORMAT", value_parser = parse_format_name)]
        format: Option<verbatim_parse::Format>,
    },
    /// Manage sources.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Check a published story (by id) or a page (by URL, ours or a copy elsewhere) against its
    /// signed provenance record and archived payload. Exit 0 identical, 1 different.
    Verify {
        #[arg(value_name = "ID|URL")]
        target: String,
        /// Allow fetching from loopback, private and link-local addresses.
        #[arg(long)]
        allow_private_networks: bool,
    },
    /// Verify every published story; prints a summary. Exit 1 if any check fails.
    Audit {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change the headline shown for a story (disclosed on the page; the body never changes).
    #[command(subcommand)]
    Headline(HeadlineCommand),
    /// The site's signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Make a new admin token (for GET /api/v1/sources) and print it once; the old one stops
    /// working.
    AdminToken,
    /// Rebuild the search index from the store (stop `serve` first: it holds the index).
    Reindex,
    /// The held queue: items the gate or a rule held, waiting for an operator.
    #[command(subcommand)]
    Held(HeldCommand),
    /// Apply the store's pending migrations and stop (`serve` and every command also do on
    /// start; several nodes starting at once are safe).
    Migrate,
    /// Move an embedded installation into PostgreSQL: every table, then the raw archive's
    /// files, then a count check (exit 1 if anything differs).
    MigrateStore {
        /// The SQLite store, e.g. sqlite://verbatim-data/verbatim.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The PostgreSQL store, e.g. postgres://verbatim@db.example/verbatim (must be empty).
        #[arg(long, value_name = "URL")]
        to: String,
        /// The raw archive folder (default: `raw` beside the SQLite file).
        #[arg(long, value_name = "DIR")]
        raw: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The nodes sharing this store, with the sources and roles each holds.
    Nodes {
        #[arg(long)]
        json: bool,
    },
    /// The webhook delivery log, newest first.
    Webhooks {
        /// How many deliveries to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum HeadlineCommand {
    /// Show TEXT instead of the agency's headline.
    Set {
        id: String,
        text: String,
        /// Who made the change (recorded and signed).
        #[arg(long, value_name = "NAME", default_value = "operator")]
        by: String,
    },
    /// Show the agency's headline again.
    Clear { id: String },
}

#[derive(Debug, Subcommand)]
enum HeldCommand {
    /// List held items, newest first.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show a held story's held versions: reasons, headline and text.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Publish a held story after all (not possible for fidelity failures).
    Release {
        id: String,
        /// Who decided (recorded).
        #[arg(long, value_name = "NAME", default_value = "operator")]
        by: String,
    },
    /// Take a held story out of the queue for good (it stays archived, never published).
    Drop {
        id: String,
        #[arg(long, value_name = "NAME", default_value = "operator")]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print the public keys (current first).
    List,
    /// Make a new signing key; old public keys stay, so old records still verify.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum SourceCommand {
    /// Add a polled source (NAME URL) or a push source (NAME --push).
    Add {
        name: String,
        url: Option<String>,
        /// How often to poll, e.g. 90s, 5m, 1h.
        #[arg(long, value_name = "DURATION", default_value = "5m")]
        every: String,
        /// A push source: prints its token.
        #[arg(long, conflicts_with = "url")]
        push: bool,
        /// The notice line under this source's stories (a template).
        #[arg(long, value_name = "TEXT")]
        notice: Option<String>,
        /// How to authenticate when polling: basic:USER:PASSWORD, bearer:TOKEN or
        /// header:NAME:VALUE (stored, never shown).
        #[arg(long, value_name = "SPEC", conflicts_with = "push")]
        auth: Option<String>,
        /// The language of the source's copy (en, pt-BR); the quality gate holds items in
        /// another language.
        #[arg(long, value_name = "TAG")]
        language: Option<String>,
    },
    /// Declare the language of a source's copy (or, without TAG, forget it).
    Language { name: String, tag: Option<String> },
    /// List sources with their health and last error.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop polling a source (its stories stay published).
    Pause { name: String },
    /// Poll a paused source again.
    Resume { name: String },
    /// Forget a source: no more polling or pushes; its published stories stay.
    Remove { name: String },
    /// Make (or with --off remove) the shared secret that lets a push source sign its pushes
    /// with HMAC-SHA256 instead of sending its token; prints it once.
    Hmac {
        name: String,
        #[arg(long)]
        off: bool,
    },
    /// Fetch a polled source once and print what would be ingested; stores nothing.
    Test {
        name: String,
        /// Allow fetching from loopback, private and link-local addresses.
        #[arg(long)]
        allow_private_networks: bool,
    },
}

/// Bad usage or bad input: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let quiet = matches!(
        cli.command,
        Command::Parse { .. } | Command::Ingest { .. } | Command::Source(_)
    );
    let filter = tracing_subscriber::EnvFilter::try_from_env("VERBATIM_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if quiet { "warn" } else { "info,tantivy=warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Parsing runs on blocking threads; each thread that allocates keeps memory of its own,
        // so a small pool keeps a 10,000-source `serve` lean (eight are more than two cores need).
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.chain().any(|cause| cause.is::<BadInput>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Everything a command needs, built once from the flags and the config file.
pub struct Setup {
    data: PathBuf,
    config: Config,
    store_url: Option<String>,
    config_path: Option<PathBuf>,
}

impl Setup {
    fn new(global: &GlobalArgs) -> Result<Setup> {
        let config = Config::load(global.config.as_deref())
            .map_err(|error| BadInput(format!("{error:#}")))?;
        Ok(Setup {
            data: global
                .data
                .clone()
                .unwrap_or_else(|| PathBuf::from("verbatim-data")),
            store_url: global.store.clone().or_else(|| config.store.url.clone()),
            config,
            config_path: global.config.clone(),
        })
    }

    async fn open_store(&self) -> Result<Arc<dyn Store>> {
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("cannot create the data folder {}", self.data.display()))?;
        let store: Arc<dyn Store> = match &self.store_url {
            Some(url) if url.starts_with("sqlite:") => Arc::new(
                SqliteStore::open_url(url)
                    .await
                    .context("cannot open the store")?,
            ),
            Some(_) if self.is_postgres() => Arc::new(
                verbatim_store::PostgresStore::open_url(self.store_url.as_deref().unwrap_or(""))
                    .await
                    .context("cannot open the PostgreSQL store")?,
            ),
            Some(url) => {
                return Err(BadInput(format!(
                    "unsupported store URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE"
                ))
                .into());
            }
            None => Arc::new(
                SqliteStore::open(&self.data.join("verbatim.db"))
                    .await
                    .context("cannot open the store")?,
            ),
        };
        Ok(store)
    }

    /// The store for messages: its URL without a password, or the SQLite file.
    fn store_description(&self) -> String {
        match &self.store_url {
            Some(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                _ => url.clone(),
            },
            None => self.data.join("verbatim.db").display().to_string(),
        }
    }

    /// Where payloads are kept: `store.archive`, by default files with SQLite and the database
    /// with PostgreSQL (every node reads them).
    fn archive(&self, store: &Arc<dyn Store>) -> RawArchive {
        let place = self.config.store.archive.unwrap_or(if self.is_postgres() {
            config::ArchivePlace::Database
        } else {
            config::ArchivePlace::Files
        });
        match place {
            config::ArchivePlace::Files => RawArchive::new(self.data.join("raw")),
            config::ArchivePlace::Database => RawArchive::in_database(store.clone()),
        }
    }

    fn is_postgres(&self) -> bool {
        self.store_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres:") || url.starts_with("postgresql:"))
    }

    async fn pipeline(&self) -> Result<Pipeline> {
        let store = self.open_store().await?;
        let mut known: Vec<String> = store
            .sources()
            .await?
            .into_iter()
            .map(|source| source.name)
            .collect();
        known.extend(self.config.sources.iter().map(|source| source.name.clone()));
        let gate = self.gate_settings(Some(&known))?;
        Ok(Pipeline {
            gate: Arc::new(gate),
            archive: self.archive(&store),
            store,
            keys: Arc::new(self.keys()?),
            limits: verbatim_parse::Limits {
                max_document_bytes: self.config.limits.max_document_bytes,
                ..verbatim_parse::Limits::default()
            },
        })
    }

    /// The routing rules (checked against `known` sources when given) and the quality switch.
    fn gate_settings(&self, known: Option<&[String]>) -> Result<pipeline::GateSettings> {
        let rules = self.config.compile_rules(known).map_err(|error| {
            BadInput(match &self.config_path {
                Some(path) => format!("{}: {error}", path.display()),
                None => error.to_string(),
            })
        })?;
        Ok(pipeline::GateSettings {
            rules,
            quality: self.config.gate.quality,
            endpoints: self
                .config
                .webhooks
                .iter()
                .filter_map(|webhook| Some((webhook.name.clone()?, webhook.url.clone())))
                .collect(),
            base_url: self.site(self.config.server.listen).base_url,
        })
    }

    /// The site's signing keys, made on first use in `DATA/keys/`.
    /// The signing keys: `provenance.keys`, or `DATA/keys`. Every node of one store must use
    /// the same folder, or pages signed by one node would not verify on another.
    fn keys(&self) -> Result<verbatim_provenance::KeyRing> {
        let now = verbatim_store::format_time(Utc::now());
        Ok(verbatim_provenance::KeyRing::open(&self.keys_dir(), &now)?)
    }

    fn keys_dir(&self) -> PathBuf {
        self.config
            .provenance
            .keys
            .clone()
            .unwrap_or_else(|| self.data.join("keys"))
    }

    fn fetcher(&self, allow_private_networks: bool) -> Result<Fetcher> {
        let fetch = &self.config.fetch;
        let mut config = FetchConfig {
            allow_private_networks: allow_private_networks || fetch.allow_private_networks,
            total_timeout: fetch.timeout,
            max_body_bytes: fetch.max_body_bytes,
            ..FetchConfig::default()
        };
        if let Some(agent) = &fetch.user_agent {
            config.user_agent = agent.clone();
        }
        Ok(Fetcher::new(config)?)
    }

    fn site(&self, listen: SocketAddr) -> SiteConfig {
        let site = &self.config.site;
        let defaults = SiteConfig::default();
        SiteConfig {
            title: site.title.clone().unwrap_or(defaults.title),
            base_url: site
                .base_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}"))
                .trim_end_matches('/')
                .to_string(),
            notice: site.notice.clone().unwrap_or(defaults.notice),
            templates_dir: site.templates.clone(),
            feed_size: defaults.feed_size,
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let context = Setup::new(&cli.global)?;
    match cli.command {
        Command::Demo { listen } => demo::run(&cli.global, context, listen).await,
        Command::Serve {
            listen,
            allow_private_networks,
        } => {
            let listen = listen.unwrap_or(context.config.server.listen);
            serve(&context, listen, allow_private_networks, None).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            inputs,
            source,
            allow_private_networks,
            json,
        } => {
            ingest(
                &context,
                &inputs,
                source.as_deref(),
                allow_private_networks,
                json,
            )
            .await
        }
        Command::Parse {
            path,
            explain,
            format,
        } => parse_command(&context, &path, explain, format),
        Command::Source(command) => source_command(&context, command).await,
        Command::Verify {
            target,
            allow_private_networks,
        } => verify_command(&context, &target, allow_private_networks).await,
        Command::Audit { json } => audit_command(&context, json).await,
        Command::Headline(command) => headline_command(&context, command).await,
        Command::Key(command) => key_command(&context, command),
        Command::Reindex => reindex_command(&context).await,
        Command::Held(command) => held_command(&context, command).await,
        Command::Webhooks { limit, json } => webhooks_command(&context, limit, json).await,
        Command::Migrate => migrate::migrate_command(&context).await,
        Command::MigrateStore {
            from,
            to,
            raw,
            json,
        } => migrate::migrate_store_command(&from, &to, raw.as_deref(), json).await,
        Command::Nodes { json } => migrate::nodes_command(&context, json).await,
        Command::AdminToken => {
            let store = context.open_store().await?;
            let token = new_token();
            store
                .set_setting(
                    verbatim_publish::ADMIN_TOKEN_SETTING,
                    &verbatim_item::sha256_hex(token.as_bytes()),
                )
                .await?;
            println!(
                "A new admin token (shown once, keep it secret; the previous one no longer works):"
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify_command(
    context: &Setup,
    target: &str,
    allow_private_networks: bool,
) -> Result<ExitCode> {
    let pipeline = context.pipeline().await?;
    let mut findings = verify::Findings::default();
    let story_id = if target.starts_with("http://") || target.starts_with("https://") {
        let fetcher = context.fetcher(allow_private_networks)?;
        let page = match fetcher.get(target, &Validators::default()).await {
            Ok(FetchOutcome::Fetched(fetched)) => {
                String::from_utf8_lossy(&fetched.body).into_owned()
            }
            Ok(FetchOutcome::NotModified { .. }) => {
                return Err(
                    BadInput(format!("{target}: answered 304 to an unconditional GET")).into(),
                );
            }
            Err(error) => return Err(BadInput(error.to_string()).into()),
        };
        let page = verify::read_page(&page);
        let Some(id) = page.item_id.clone() else {
            return Err(BadInput(format!(
                "{target}: no Verbatim item id in the page (no verbatim:item-id meta tag or canonical link)"
            ))
            .into());
        };
        let Some(story) = pipeline.store.story(&id).await? else {
            return Err(
                BadInput(format!("{target}: item {id} is not in this site's store")).into(),
            );
        };
        verify::check_page(&page, &story, &mut findings);
        id
    } else {
        target.to_string()
    };
    let Some(story) = pipeline.store.story(&story_id).await? else {
        return Err(BadInput(format!("no story {story_id}")).into());
    };
    if story.state != StoryState::Published {
        println!("{story_id}: not published ({})", story.state.as_str());
        return Ok(ExitCode::from(1));
    }
    let checked = verify::check_story(&pipeline, &story).await?;
    findings.problems.extend(checked.problems);
    findings.diffs.extend(checked.diffs);
    let version = story.current.as_ref().map_or(0, |version| version.seq);
    if findings.is_clean() {
        let key = story
            .current
            .as_ref()
            .and_then(verify::signed_record)
            .map(|signed| signed.record.key_id)
            .unwrap_or_default();
        println!(
            "OK {target}: item {story_id} version {version} is the agency's text, unmodified \
             (signature valid, key {key}; matches the archived payload)"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("DIFFERENT {target}: item {story_id} version {version}");
        for problem in &findings.problems {
            println!("  - {problem}");
        }
        for diff in &findings.diffs {
            println!("  {diff}");
        }
        Ok(ExitCode::from(1))
    }
}

/// Checks every published story; `serve` runs the same on a schedule.
pub async fn audit(
    pipeline: &pipeline::Pipeline,
    progress: bool,
) -> Result<(usize, Vec<(String, verify::Findings)>)> {
    let total = pipeline.store.counts().await?.published;
    let bar = if progress {
        indicatif::ProgressBar::new(total.max(0) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("auditing {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut cursor = None;
    loop {
        let page = pipeline
            .store
            .list(&verbatim_store::ListQuery {
                limit: 200,
                cursor: cursor.take(),
                ..verbatim_store::ListQuery::default()
            })
            .await?;
        for story in &page.stories {
            let findings = verify::check_story(pipeline, story).await?;
            checked += 1;
            bar.inc(1);
            if !findings.is_clean() {
                bar.set_message(format!("{} failed", failures.len() + 1));
                failures.push((story.id.clone(), findings));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    bar.finish_and_clear();
    Ok((checked, failures))
}

/// `serve`'s scheduled audit: every `every`, verify every published story; failures are logged
/// as errors and counted in /metrics.
async fn audit_loop(pipeline: pipeline::Pipeline, every: Duration, node: Arc<node::Node>) {
    loop {
        tokio::time::sleep(every).await;
        // One node audits the shared store per period: the lease lasts the period, slightly
        // less so that the holder's next tick finds it its own or free.
        if !node
            .hold_for("audit", every.saturating_sub(Duration::from_secs(1)))
            .await
        {
            continue;
        }
        match audit(&pipeline, false).await {
            Ok((checked, failures)) => {
                for (id, findings) in &failures {
                    tracing::error!(%id, problems = ?findings.problems, "audit: published text differs from its signed record");
                }
                tracing::info!(checked, failed = failures.len(), "audit finished");
                if let Err(error) = pipeline
                    .store
                    .record_audit(Utc::now(), checked as i64, failures.len() as i64)
                    .await
                {
                    tracing::error!(%error, "cannot record the audit");
                }
            }
            Err(error) => tracing::error!(%error, "audit failed to run"),
        }
    }
}

async fn audit_command(context: &Setup, json: bool) -> Result<ExitCode> {
    let pipeline = context.pipeline().await?;
    let (checked, failures) = audit(&pipeline, !json).await?;
    pipeline
        .store
        .record_audit(Utc::now(), checked as i64, failures.len() as i64)
        .await?;
    if json {
        let failed: Vec<serde_json::Value> = failures
            .iter()
            .map(|(id, findings)| {
                serde_json::json!({ "id": id, "problems": findings.problems, "diffs": findings.diffs })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "checked": checked, "failed": failed.len(), "failures": failed })
        );
    } else {
        for (id, findings) in &failures {
            println!("DIFFERENT {id}");
            for problem in &findings.problems {
                println!("  - {problem}");
            }
            for diff in &findings.diffs {
                println!("  {diff}");
            }
        }
        println!(
            "audited {checked} published stories: {} identical, {} different",
            checked - failures.len(),
            failures.len()
        );
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn headline_command(context: &Setup, command: HeadlineCommand) -> Result<ExitCode> {
    let pipeline = context.pipeline().await?;
    let (id, change) = match &command {
        HeadlineCommand::Set { id, text, by } => {
            let text = text.trim();
            if text.is_empty() {
                return Err(BadInput("the headline is empty".into()).into());
            }
            (
                id,
                Some(verbatim_store::HeadlineOverride {
                    headline: text.to_string(),
                    set_by: by.clone(),
                    set_at: Utc::now(),
                }),
            )
        }
        HeadlineCommand::Clear { id } => (id, None),
    };
    let Some(story) = pipeline.store.story(id).await? else {
        return Err(BadInput(format!("no story {id}")).into());
    };
    let Some(version) = story.current.as_ref() else {
        return Err(BadInput(format!("story {id} has nothing published")).into());
    };
    pipeline
        .store
        .set_headline_override(id, change.as_ref(), Utc::now())
        .await?;
    // The change is part of the version's signed record, so a page showing it still verifies.
    if let Some(signed) = verify::signed_record(version) {
        let mut record = signed.record;
        record.headline_override =
            change
                .as_ref()
                .map(|change| verbatim_provenance::HeadlineOverride {
                    headline: change.headline.clone(),
                    by: change.set_by.clone(),
                    at: verbatim_store::format_time(change.set_at),
                });
        record.key_id = pipeline.keys.current_id().to_string();
        let signed = record.sign(pipeline.keys.signing_key());
        pipeline
            .store
            .update_provenance(
                version.seq,
                &serde_json::to_string(&signed.record)?,
                &signed.signature,
            )
            .await?;
    }
    match change {
        Some(change) => println!(
            "{id}: headline set to {:?} by {} (the agency's: {:?})",
            change.headline, change.set_by, version.item.headline
        ),
        None => println!("{id}: the agency's headline is shown again"),
    }
    Ok(ExitCode::SUCCESS)
}

fn key_command(context: &Setup, command: KeyCommand) -> Result<ExitCode> {
    let now = verbatim_store::format_time(Utc::now());
    let keys = match command {
        KeyCommand::List => context.keys()?,
        KeyCommand::Rotate => verbatim_provenance::KeyRing::rotate(&context.keys_dir(), &now)?,
    };
    for (index, key) in keys.public_keys().iter().enumerate() {
        let public = serde_json::to_value(key)?;
        println!(
            "{} {} {}{}",
            key.key_id,
            public["key"].as_str().unwrap_or_default(),
            key.created,
            if index == 0 { " (current)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts the server and the ingest loops; `ready` is told the bound address.
async fn serve(
    context: &Setup,
    listen: SocketAddr,
    allow_private_networks: bool,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<()> {
    let mut pipeline = context.pipeline().await?;
    // Notifications link to the address this server answers at.
    pipeline.gate = Arc::new(pipeline::GateSettings {
        base_url: context.site(listen).base_url,
        ..(*pipeline.gate).clone()
    });
    let now = Utc::now();
    for source in &context.config.sources {
        pipeline
            .store
            .upsert_source(
                &NewSource {
                    name: source.name.clone(),
                    url: Some(source.url.clone()),
                    kind: SourceKind::Poll,
                    every_seconds: source.every.as_secs() as i64,
                    notice: source.notice.clone(),
                    push_token_sha256: None,
                    auth: source.auth.clone(),
                    language: source.language.clone(),
                },
                now,
            )
            .await?;
    }
    let recovered = pipeline.recover_pending().await?;
    if recovered > 0 {
        tracing::info!(
            recovered,
            "processed payloads left pending by a previous run"
        );
    }
    pipeline.store.release_due(Utc::now()).await?;

    let inbox = context.data.join("inbox");
    std::fs::create_dir_all(&inbox)
        .with_context(|| format!("cannot create the inbox {}", inbox.display()))?;
    // Bound first: WebSub callbacks name the address.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let site = context.site(bound);

    let fetcher = context.fetcher(allow_private_networks)?;
    let websub_config = &context.config.websub;
    let websub = websub_config.enabled.then(|| websub::WebSub {
        pipeline: pipeline.clone(),
        fetcher: fetcher.clone(),
        settings: websub::WebSubSettings {
            callback_base: websub_config
                .callback_base
                .clone()
                .unwrap_or_else(|| site.base_url.clone()),
            lease: websub_config.lease,
            poll_while_subscribed: websub_config.poll_while_subscribed,
        },
    });
    let node = Arc::new(node::Node::new(
        context
            .config
            .node
            .name
            .clone()
            .unwrap_or_else(node::Node::default_name),
        context.config.node.lease,
        pipeline.store.clone(),
    ));
    let poll_settings = serve::PollSettings {
        min_interval: context.config.fetch.min_interval,
        max_age_cap: context.config.fetch.max_age_cap,
        websub: websub.clone(),
        node: node.clone(),
    };
    tokio::spawn(serve::poll_loop(
        pipeline.clone(),
        fetcher.clone(),
        poll_settings,
    ));
    if !context.config.webhooks.is_empty() {
        let endpoints: Vec<webhooks::Endpoint> = context
            .config
            .webhooks
            .iter()
            .map(|webhook| webhooks::Endpoint {
                url: webhook.url.clone(),
                secret: webhook.secret.clone(),
                events: webhook.events.clone(),
            })
            .collect();
        tokio::spawn(webhooks::watch(
            pipeline.clone(),
            endpoints.clone(),
            site.base_url.clone(),
        ));
        tokio::spawn(webhooks::send(pipeline.clone(), fetcher.clone(), endpoints));
    }
    if let Some(websub) = &websub {
        tokio::spawn(websub.clone().renew_loop(node.clone()));
    }
    tokio::spawn(serve::embargo_loop(pipeline.clone()));
    tokio::spawn(serve::inbox_loop(
        pipeline.clone(),
        inbox.clone(),
        context.config.inbox.settle,
    ));
    if !context.config.audit.every.is_zero() {
        tokio::spawn(audit_loop(
            pipeline.clone(),
            context.config.audit.every,
            node.clone(),
        ));
    }

    let limits = &context.config.limits;
    let push = Arc::new(serve::PushIngest {
        pipeline: pipeline.clone(),
        limiter: serve::push_limiter(limits.push_per_second, limits.push_burst),
    });
    let search = open_search_index(&context.data)?;
    if search.is_writer() {
        tokio::spawn(index::follow(
            pipeline.store.clone(),
            search.clone(),
            saved_searches(context, listen),
            node.clone(),
        ));
    }
    let mut state = AppState::new(pipeline.store.clone(), site, Some(push))
        .with_keys(pipeline.keys.public_keys().to_vec())
        .with_search(search)
        .with_live();
    if let Some(websub) = websub {
        state = state.with_websub(Arc::new(websub));
    }
    let app = verbatim_publish::router(state);
    tracing::info!(address = %bound, inbox = %inbox.display(), "serving");
    println!("Verbatim is serving on http://{bound}/");
    if let Some(ready) = ready {
        let _ = ready.send(bound);
    }
    serve::run_server(listener, app).await
}

/// The configured saved searches, with the URL of the webhook each one notifies.
fn saved_searches(context: &Setup, listen: SocketAddr) -> index::SavedSearches {
    let searches = context
        .config
        .saved_searches
        .iter()
        .filter_map(|search| {
            let endpoint = context
                .config
                .webhooks
                .iter()
                .find(|webhook| webhook.name.as_deref() == Some(search.webhook.as_str()))?;
            Some(index::SavedSearch {
                name: search.name.clone(),
                query: verbatim_search::SearchQuery {
                    text: search.query.clone(),
                    source: search.source.clone(),
                    section: search.section.clone(),
                    language: search.language.clone(),
                    ..verbatim_search::SearchQuery::default()
                },
                endpoint_url: endpoint.url.clone(),
            })
        })
        .collect();
    index::SavedSearches::new(searches, context.site(listen).base_url)
}

/// The search index folder.
fn search_dir(data: &Path) -> PathBuf {
    data.join("search")
}

/// Opens the search index for `serve`: for writing, or for searching only when another process
/// on this data folder writes it. An unreadable index is moved aside and rebuilt from the store.
fn open_search_index(data: &Path) -> Result<Arc<verbatim_search::SearchIndex>> {
    let dir = search_dir(data);
    match verbatim_search::SearchIndex::open(&dir) {
        Ok(index) => Ok(Arc::new(index)),
        Err(verbatim_search::SearchError::Busy) => {
            tracing::info!("another process writes the search index; searching it read-only");
            Ok(Arc::new(verbatim_search::SearchIndex::open_read_only(
                &dir,
            )?))
        }
        Err(error) => {
            let aside = data.join(format!("search.broken-{}", Utc::now().timestamp()));
            tracing::warn!(%error, aside = %aside.display(), "search index unreadable; rebuilding it");
            std::fs::rename(&dir, &aside)
                .with_context(|| format!("cannot move {} aside", dir.display()))?;
            Ok(Arc::new(verbatim_search::SearchIndex::open(&dir)?))
        }
    }
}

async fn webhooks_command(context: &Setup, limit: usize, json: bool) -> Result<ExitCode> {
    let store = context.open_store().await?;
    let log = store.webhook_log(limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&log)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:<11} {:<10} {:<9} {:<8} {:<40} LAST ERROR",
        "EVENT", "KIND", "STATE", "ATTEMPTS", "STATUS", "ENDPOINT"
    );
    for delivery in log {
        println!(
            "{:<8} {:<11} {:<10} {:<9} {:<8} {:<40} {}",
            delivery.event_id,
            delivery.kind,
            delivery.state,
            delivery.attempts,
            delivery
                .last_status
                .map(|status| status.to_string())
                .unwrap_or_else(|| "-".into()),
            verbatim_item::redact_url(&delivery.endpoint),
            delivery.last_error.unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn reindex_command(context: &Setup) -> Result<ExitCode> {
    let store = context.open_store().await?;
    let dir = search_dir(&context.data);
    // The index is replaced by one with the stories' own common words (learned first); its
    // writer lock is held meanwhile, so a `serve` starting now does not take it.
    let held = match verbatim_search::SearchIndex::open(&dir) {
        Ok(index) => Some(index),
        Err(verbatim_search::SearchError::Busy) => {
            bail!(
                "a running `verbatim serve` holds the search index {}; stop it first (it keeps the index up to date itself)",
                dir.display()
            )
        }
        // Unreadable: replaced all the same.
        Err(_) => None,
    };
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("learning the stories' common words…");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let common = index::learn_common_words(&*store).await?;
    drop(held);
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    let index = verbatim_search::SearchIndex::create_with_common(&dir, common)?;
    spinner.set_message("indexing published stories…");
    let mut follower = index::Follower::from_start();
    let seen = follower.catch_up(&*store, &index).await?;
    index.commit()?;
    spinner.finish_and_clear();
    println!(
        "search index rebuilt: {} published stories indexed ({} stories read), {} common words",
        index.len(),
        seen,
        index.common_words().len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Registers a source if it does not exist yet (for files, folders and inbox deliveries).
pub(crate) async fn ensure_source(
    store: &dyn Store,
    name: &str,
    kind: SourceKind,
) -> Result<(), StoreError> {
    let result = store
        .add_source(
            &NewSource {
                name: name.to_string(),
                url: None,
                kind,
                every_seconds: 300,
                notice: None,
                push_token_sha256: None,
                auth: None,
                language: None,
            },
            Utc::now(),
        )
        .await;
    match result {
        Ok(()) | Err(StoreError::SourceExists(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Source names appear in URLs and folder names: letters, digits, `-`, `_` and `.`.
/// A language tag the gate can compare (see `verbatim_gate::rules::valid_language_tag`).
pub(crate) fn validate_language_tag(tag: &str) -> Result<(), String> {
    if verbatim_gate::rules::valid_language_tag(tag) {
        Ok(())
    } else {
        Err(format!(
            "{tag:?} is not a language tag (like \"en\" or \"pt-BR\")"
        ))
    }
}

async fn held_command(context: &Setup, command: HeldCommand) -> Result<ExitCode> {
    let store = context.open_store().await?;
    match command {
        HeldCommand::List { limit, json } => {
            let held = store.held(limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&held)?);
                return Ok(ExitCode::SUCCESS);
            }
            if held.is_empty() {
                println!("The held queue is empty.");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<34} {:<16} {:<10} {:<20} reasons · headline",
                "story", "source", "story is", "received"
            );
            for entry in &held {
                println!(
                    "{:<34} {:<16} {:<10} {:<20} {} · {}",
                    entry.story_id,
                    entry.source,
                    entry.story_state.as_str(),
                    entry.version.received_at.format("%Y-%m-%d %H:%M:%S"),
                    entry.version.hold_reasons.join("; "),
                    entry.version.item.headline
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        HeldCommand::Show { id, json } => {
            let held = store.held_story(&id).await?;
            if held.is_empty() {
                bail!(BadInput(format!("{id:?} has nothing in the held queue")));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&held)?);
                return Ok(ExitCode::SUCCESS);
            }
            for entry in held {
                let item = &entry.version.item;
                println!(
                    "story     {} ({} · {})",
                    entry.story_id, entry.source, entry.guid
                );
                println!("received  {}", entry.version.received_at.to_rfc3339());
                for reason in &entry.version.hold_reasons {
                    let releasable = if verbatim_gate::releasable(reason) {
                        ""
                    } else {
                        " (cannot be released)"
                    };
                    println!("held      {reason}{releasable}");
                }
                println!("headline  {}", item.headline);
                println!();
                println!("{}", item.body_text);
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
        HeldCommand::Release { id, by } => {
            let held = store.held_story(&id).await?;
            if held.is_empty() {
                bail!(BadInput(format!("{id:?} has nothing in the held queue")));
            }
            if let Some(reason) = held
                .iter()
                .flat_map(|entry| entry.version.hold_reasons.iter())
                .find(|reason| !verbatim_gate::releasable(reason))
            {
                bail!(BadInput(format!(
                    "{id:?} cannot be released: {reason} (publishing it would change the agency's text); drop it instead"
                )));
            }
            let (versions, state) = store
                .review_held(&id, verbatim_store::Review::Released, &by, Utc::now())
                .await?;
            println!(
                "released {versions} version(s) of {id}; the story is now {}",
                state.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
        HeldCommand::Drop { id, by } => {
            let (versions, state) = store
                .review_held(&id, verbatim_store::Review::Dropped, &by, Utc::now())
                .await
                .map_err(|error| match error {
                    verbatim_store::StoreError::NotFound(_) => {
                        anyhow::Error::new(BadInput(error.to_string()))
                    }
                    other => other.into(),
                })?;
            if versions == 0 {
                bail!(BadInput(format!("{id:?} has nothing in the held queue")));
            }
            println!(
                "dropped {versions} version(s) of {id}; the story is {}",
                state.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn validate_source_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|ch| ch.is_alphanumeric() || matches!(ch, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid source name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

fn source_for_path(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = stem
        .chars()
        .map(|ch| {
            if ch.is_alphanumeric() || matches!(ch, '-' | '_') {
                ch
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "local".to_string()
    } else {
        cleaned
    }
}

fn files_under(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)
        .map_err(|error| BadInput(format!("{}: {error}", path.display())))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut folders = vec![path.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

async fn ingest(
    context: &Setup,
    inputs: &[String],
    source: Option<&str>,
    allow_private_networks: bool,
    json: bool,
) -> Result<ExitCode> {
    if let Some(source) = source {
        validate_source_name(source).map_err(BadInput)?;
    }
    let pipeline = context.pipeline().await?;
    let mut reports: Vec<IngestReport> = Vec::new();
    let mut fetch_failed = false;
    for input in inputs {
        if input.starts_with("http://") || input.starts_with("https://") {
            let fetcher = context.fetcher(allow_private_networks)?;
            let host = url::Url::parse(input)
                .ok()
                .and_then(|url| url.host_str().map(str::to_string))
                .unwrap_or_else(|| "web".to_string());
            let name = source.map(str::to_string).unwrap_or(host);
            ensure_source(&*pipeline.store, &name, SourceKind::Poll).await?;
            match fetcher.get(input, &Validators::default()).await {
                Ok(FetchOutcome::Fetched(fetched)) => {
                    let mut received = Received::new(&name, &fetched.final_url, fetched.body);
                    received.content_type = fetched.content_type;
                    received.http_status = Some(i64::from(fetched.status));
                    received.etag = fetched.validators.etag;
                    received.last_modified = fetched.validators.last_modified;
                    reports.push(pipeline.ingest(received).await?);
                }
                Ok(FetchOutcome::NotModified { .. }) => {}
                Err(error) => {
                    eprintln!("error: {error}");
                    fetch_failed = true;
                }
            }
            continue;
        }
        for file in files_under(Path::new(input))? {
            let name = source
                .map(str::to_string)
                .unwrap_or_else(|| source_for_path(&file));
            ensure_source(&*pipeline.store, &name, SourceKind::Inbox).await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let received = Received::new(&name, &file.display().to_string(), bytes);
            reports.push(pipeline.ingest(received).await?);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    let mut bad_input = false;
    for report in &reports {
        for error in report.errors.iter().chain(report.failed.iter()) {
            eprintln!("error: {error}");
        }
        bad_input |= report.had_bad_input();
        if !json {
            println!(
                "{}: {} new, {} updated, {} unchanged, {} held{}",
                report.origin,
                report.count(CommitKind::New),
                report.count(CommitKind::Version),
                report.count(CommitKind::Unchanged),
                report.held(),
                match (&report.failed, report.errors.len()) {
                    (Some(_), _) => " — failed".to_string(),
                    (None, 0) => String::new(),
                    (None, skipped) => format!(" — {skipped} problem(s), the rest ingested"),
                }
            );
        }
    }
    let total: usize = reports.iter().map(|report| report.items.len()).sum();
    if !json {
        println!(
            "{} payload(s), {total} item(s); raw payloads archived in {}",
            reports.len(),
            pipeline.archive.describe()
        );
    }
    Ok(if bad_input {
        ExitCode::from(2)
    } else if fetch_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--format` values: the names `verbatim parse --explain` prints.
fn parse_format_name(name: &str) -> Result<verbatim_parse::Format, String> {
    verbatim_parse::Format::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = verbatim_parse::Format::ALL
            .iter()
            .map(|format| format.name())
            .collect();
        format!("unknown format; one of: {}", names.join(", "))
    })
}

fn parse_command(
    context: &Setup,
    path: &Path,
    explain: bool,
    format: Option<verbatim_parse::Format>,
) -> Result<ExitCode> {
    let bytes =
        std::fs::read(path).map_err(|error| BadInput(format!("{}: {error}", path.display())))?;
    let origin = path.display().to_string();
    let limits = verbatim_parse::Limits {
        max_document_bytes: context.config.limits.max_document_bytes,
        ..verbatim_parse::Limits::default()
    };
    let parsed = verbatim_parse::parse_as(
        verbatim_parse::Input {
            bytes: &bytes,
            content_type: None,
            origin: &origin,
        },
        format,
        &limits,
    )
    .map_err(|error| BadInput(error.to_string()))?;
    if explain {
        eprintln!(
            "{origin}: format {} ({}), encoding {}, {} item(s) read",
            parsed.format.name(),
            parsed.detected_because,
            parsed.encoding,
            parsed.drafts.len()
        );
        if parsed.feed != verbatim_parse::FeedMeta::default() {
            let shown = |text: &Option<verbatim_parse::FeedText>| {
                text.as_ref().map(|text| match text.is_html {
                    true => verbatim_normalize::visible_text(&text.value),
                    false => text.value.clone(),
                })
            };
            let feed = serde_json::json!({
                "title": shown(&parsed.feed.title),
                "subtitle": shown(&parsed.feed.subtitle),
                "link": parsed.feed.link,
                "language": parsed.feed.language,
                "rights": shown(&parsed.feed.rights),
            });
            let feed: serde_json::Map<String, serde_json::Value> = feed
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            eprintln!("{origin}: feed {}", serde_json::Value::Object(feed));
        }
    }
    let raw = verbatim_item::sha256_hex(&bytes);
    let now = Utc::now();
    // The configured rules and quality checks; parse reads no store, so the source's declared
    // language and usual length are unknown here.
    let gate = context.gate_settings(None)?;
    let profile = verbatim_gate::SourceProfile::default();
    let mut stdout = std::io::stdout().lock();
    let source = source_for_path(path);
    for mut draft in parsed.drafts {
        draft.item.source = source.clone();
        draft.item.raw = Some(raw.clone());
        let normalized = verbatim_normalize::normalize(draft);
        let verdict = gate.verdict(&normalized, &profile, now);
        let mut value = serde_json::to_value(&normalized.item)?;
        if let Some(map) = value.as_object_mut() {
            if verdict.is_held() {
                map.insert("held".into(), serde_json::json!(verdict.hold_reasons));
            }
            if let Some(rule) = &verdict.dropped_by {
                map.insert("dropped_by".into(), serde_json::json!(rule));
            }
        }
        use std::io::Write;
        writeln!(stdout, "{value}")?;
    }
    for error in &parsed.errors {
        eprintln!("error: {error}");
    }
    Ok(if parsed.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn source_command(context: &Setup, command: SourceCommand) -> Result<ExitCode> {
    let store = context.open_store().await?;
    match command {
        SourceCommand::Add {
            name,
            url,
            every,
            push,
            notice,
            auth,
            language,
        } => {
            validate_source_name(&name).map_err(BadInput)?;
            if let Some(tag) = &language {
                validate_language_tag(tag).map_err(BadInput)?;
            }
            if let Some(spec) = &auth {
                verbatim_fetch::Credentials::parse(spec)
                    .map_err(|error| BadInput(format!("--auth: {error}")))?;
            }
            let every = humantime::parse_duration(&every)
                .map_err(|error| BadInput(format!("--every {every:?}: {error}")))?;
            let minimum = context.config.fetch.min_interval;
            if every < minimum {
                bail!(BadInput(format!(
                    "--every must be at least {} (fetch.min_interval)",
                    humantime::format_duration(minimum)
                )));
            }
            let (kind, token) = if push {
                (SourceKind::Push, Some(new_token()))
            } else {
                let Some(url) = &url else {
                    bail!(BadInput(
                        "give the source's URL, or --push for a push source".into()
                    ));
                };
                let parsed =
                    url::Url::parse(url).map_err(|error| BadInput(format!("{url:?}: {error}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    bail!(BadInput(format!(
                        "{url:?}: only http and https URLs are polled"
                    )));
                }
                (SourceKind::Poll, None)
            };
            store
                .add_source(
                    &NewSource {
                        name: name.clone(),
                        url,
                        kind,
                        every_seconds: every.as_secs() as i64,
                        notice,
                        push_token_sha256: token
                            .as_deref()
                            .map(|token| verbatim_item::sha256_hex(token.as_bytes())),
                        auth,
                        language: language.clone(),
                    },
                    Utc::now(),
                )
                .await
                .map_err(|error| match error {
                    StoreError::SourceExists(_) => anyhow::Error::new(BadInput(error.to_string())),
                    other => other.into(),
                })?;
            match token {
                Some(token) => {
                    println!("Added push source {name}. Its token (shown once, keep it secret):");
                    println!("{token}");
                    println!(
                        "Push with: curl -H 'Authorization: Bearer {token}' --data-binary @FEED http://HOST/api/v1/push/{name}"
                    );
                }
                None => println!(
                    "Added source {name}, polled every {}.",
                    humantime::format_duration(every)
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::List { json } => {
            // URLs are shown without credentials (user info, API keys in the query).
            let sources: Vec<verbatim_store::Source> = store
                .sources()
                .await?
                .into_iter()
                .map(|mut source| {
                    source.url = source.url.map(|url| verbatim_item::redact_url(&url));
                    source
                })
                .collect();
            let activity = store
                .items_since(Utc::now() - chrono::Duration::hours(24))
                .await?;
            let subscriptions = store.subscriptions().await?;
            let websub_of = |name: &str| {
                subscriptions
                    .iter()
                    .find(|subscription| subscription.source == name)
            };
            if json {
                let listed: Vec<serde_json::Value> = sources
                    .iter()
                    .map(|source| {
                        let mut value = serde_json::to_value(source).unwrap_or_default();
                        if let Some(map) = value.as_object_mut() {
                            map.insert(
                                "items_last_24h".into(),
                                activity.get(&source.name).copied().unwrap_or(0).into(),
                            );
                            if let Some(subscription) = websub_of(&source.name) {
                                map.insert(
                                    "websub".into(),
                                    serde_json::to_value(subscription).unwrap_or_default(),
                                );
                            }
                        }
                        value
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&listed)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<20} {:<6} {:<8} {:<19} {:<6} {:<6} {:<19} {:<8} {:<9} URL / LAST ERROR",
                "NAME",
                "KIND",
                "EVERY",
                "LAST SUCCESS",
                "STATUS",
                "ERRORS",
                "NEXT DUE",
                "ITEMS/24H",
                "WEBSUB"
            );
            for source in sources {
                let health = |time: Option<chrono::DateTime<Utc>>| {
                    time.map(|time| time.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "never".into())
                };
                let polled = source.kind == SourceKind::Poll;
                println!(
                    "{:<20} {:<6} {:<8} {:<19} {:<6} {:<6} {:<19} {:<9} {:<9} {}",
                    source.name,
                    source.kind.as_str(),
                    if polled {
                        format!("{}s", source.every_seconds)
                    } else {
                        "-".into()
                    },
                    health(source.last_success),
                    source
                        .last_status
                        .map(|status| status.to_string())
                        .unwrap_or_else(|| "-".into()),
                    source.consecutive_errors,
                    if source.paused {
                        "paused".into()
                    } else if polled {
                        health(source.next_due)
                    } else {
                        "-".into()
                    },
                    activity.get(&source.name).copied().unwrap_or(0),
                    websub_of(&source.name).map_or("-", |subscription| subscription.state.as_str()),
                    source.last_error.or(source.url).unwrap_or_default(),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Pause { name }
        | SourceCommand::Resume { name }
        | SourceCommand::Remove { name }
            if store.source(&name).await?.is_none() =>
        {
            Err(BadInput(format!("no source {name:?}")).into())
        }
        SourceCommand::Hmac { name, off } => {
            let source = store
                .source(&name)
                .await?
                .filter(|source| source.kind == SourceKind::Push)
                .ok_or_else(|| BadInput(format!("no push source {name:?}")))?;
            if off {
                store.set_push_hmac_secret(&source.name, None).await?;
                println!(
                    "{name}: HMAC-signed pushes are no longer accepted; the token still works"
                );
            } else {
                let secret = new_token();
                store
                    .set_push_hmac_secret(&source.name, Some(&secret))
                    .await?;
                println!(
                    "HMAC secret for {name} (shown once, keep it secret; it replaces any earlier one):"
                );
                println!("{secret}");
                println!(
                    "Sign each push: X-Verbatim-Signature: sha256=HEX, HEX = HMAC-SHA256(secret, body)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Language { name, tag } => {
            if let Some(tag) = &tag {
                validate_language_tag(tag).map_err(BadInput)?;
            }
            if !store.set_source_language(&name, tag.as_deref()).await? {
                bail!(BadInput(format!("no source {name:?}")));
            }
            match tag {
                Some(tag) => println!("{name}: copy in {tag}; items in another language are held"),
                None => println!("{name}: no declared language"),
            }
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Pause { name } => {
            store.set_paused(&name, true).await?;
            println!("{name}: paused; `verbatim source resume {name}` to poll it again");
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Resume { name } => {
            store.set_paused(&name, false).await?;
            println!("{name}: polling again");
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Remove { name } => {
            store.remove_source(&name).await?;
            println!("{name}: removed; its published stories stay");
            Ok(ExitCode::SUCCESS)
        }
        SourceCommand::Test {
            name,
            allow_private_networks,
        } => {
            let Some(source) = store.source(&name).await? else {
                return Err(BadInput(format!("no source {name:?}")).into());
            };
            let Some(url) = source.url.clone() else {
                return Err(BadInput(format!(
                    "{name} is a {} source: there is nothing to fetch",
                    source.kind.as_str()
                ))
                .into());
            };
            let fetcher = context.fetcher(allow_private_networks)?;
            let credentials = source
                .auth
                .as_deref()
                .map(verbatim_fetch::Credentials::parse)
                .transpose()
                .map_err(|error| BadInput(format!("{name}: auth: {error}")))?;
            let fetched = match fetcher
                .get_with(&url, &Validators::default(), credentials.as_ref())
                .await
            {
                Ok(FetchOutcome::Fetched(fetched)) => fetched,
                Ok(FetchOutcome::NotModified { .. }) => {
                    println!("{name}: {url} answered 304 Not Modified");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(error) => {
                    println!("{name}: {error}");
                    return Ok(ExitCode::from(1));
                }
            };
            let limits = verbatim_parse::Limits {
                max_document_bytes: context.config.limits.max_document_bytes,
                ..verbatim_parse::Limits::default()
            };
            let parsed = match verbatim_parse::parse(
                verbatim_parse::Input {
                    bytes: &fetched.body,
                    content_type: fetched.content_type.as_deref(),
                    origin: &fetched.final_url,
                },
                &limits,
            ) {
                Ok(parsed) => parsed,
                Err(error) => {
                    println!("{name}: {error}");
                    return Ok(ExitCode::from(2));
                }
            };
            let now = Utc::now();
            let pipeline = context.pipeline().await?;
            let profile = pipeline.source_profile(&name).await?;
            let (mut new, mut known, mut held) = (0, 0, 0);
            for mut draft in parsed.drafts {
                draft.item.source = name.clone();
                let normalized = verbatim_normalize::normalize(draft);
                let verdict = pipeline.gate.verdict(&normalized, &profile, now);
                let id = verbatim_store::story_id(&name, &normalized.item.guid);
                let exists = store.story(&id).await?.is_some();
                if exists {
                    known += 1
                } else {
                    new += 1
                }
                if verdict.is_held() {
                    held += 1;
                }
                println!(
                    "{} {:<8} {}{}",
                    id,
                    if exists { "known" } else { "new" },
                    normalized.item.headline,
                    if let Some(rule) = &verdict.dropped_by {
                        format!("  [dropped by rule {rule:?}]")
                    } else if verdict.is_held() {
                        format!("  [held: {}]", verdict.hold_reasons.join("; "))
                    } else {
                        String::new()
                    }
                );
            }
            for error in &parsed.errors {
                println!("error: {error}");
            }
            println!(
                "{name}: HTTP {}, {} ({}), {} item(s): {new} new, {known} already stored, {held} would be held; nothing was stored",
                fetched.status,
                parsed.format.name(),
                parsed.encoding,
                new + known
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A push token: 32 random bytes, hex.
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
