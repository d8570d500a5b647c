//! Store backends for the suites in this folder: SQLite in a temporary file, and PostgreSQL as a
//! fresh database per test on one throwaway server per test binary (created with an ICU
//! `en-US` collation, so anything that depends on the database's locale shows).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use verbatim_store::throwaway_postgres::ThrowawayPostgres;
use verbatim_store::{ClusterAssignment, PostgresStore, SqliteStore, Store};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// One database of one backend; `open` gives a new store on it (as another node would).
pub enum Db {
    Sqlite { dir: tempfile::TempDir },
    Postgres { url: String },
}

impl Db {
    pub fn sqlite() -> Result<Db, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Db::Sqlite {
            dir: tempfile::tempdir()?,
        })
    }

    /// A fresh database on this binary's server; `None` (after printing why) when PostgreSQL
    /// is not installed and `VERBATIM_REQUIRE_ALL` is not set.
    pub fn postgres(test: &str) -> Result<Option<Db>, String> {
        let Some(server) = server()? else {
            println!(
                "skipped: {}",
                ThrowawayPostgres::bin_dir()
                    .err()
                    .unwrap_or_else(|| "PostgreSQL unavailable".to_string())
            );
            return Ok(None);
        };
        let name = database_name(test);
        let icu = [
            "--locale-provider=icu",
            "--icu-locale=en-US",
            "-T",
            "template0",
        ];
        let url = match server.create_database_with(&name, &icu) {
            Ok(url) => url,
            // A server built without ICU: the C locale still runs every test.
            Err(error) => {
                println!("no ICU locale, using C: {error}");
                server.create_database(&format!("{name}_c"))?
            }
        };
        Ok(Some(Db::Postgres { url }))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        match self {
            Db::Sqlite { dir } => Some(dir.path().join("store.db")),
            Db::Postgres { .. } => None,
        }
    }

    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            Db::Sqlite { .. } => None,
            Db::Postgres { url } => Some(url),
        }
    }

    pub async fn open(&self) -> Result<Arc<dyn Store>, verbatim_store::StoreError> {
        Ok(match self {
            Db::Sqlite { dir } => Arc::new(SqliteStore::open(&dir.path().join("store.db")).await?),
            Db::Postgres { url } => Arc::new(PostgresStore::open_url(url).await?),
        })
    }
}

/// The binary's one server, started on first use; stopped by its guardian when the test
/// process ends (a `static` is never dropped).
pub fn server() -> Result<Option<&'static ThrowawayPostgres>, String> {
    static SERVER: OnceLock<Result<Option<ThrowawayPostgres>, String>> = OnceLock::new();
    match SERVER.get_or_init(ThrowawayPostgres::start) {
        Ok(server) => Ok(server.as_ref()),
        Err(error) => Err(error.clone()),
    }
}

/// A database name unique within the server: the test's name and a counter.
fn database_name(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let clean: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    format!("t{}_{clean}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs a suite function against SQLite and against PostgreSQL, as two tests per function:
/// `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> $crate::common::TestResult {
                    super::$name($crate::common::Db::sqlite()?).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> $crate::common::TestResult {
                    match $crate::common::Db::postgres(stringify!($name))? {
                        Some(db) => super::$name(db).await,
                        None => Ok(()),
                    }
                }
            )*
        }
    };
}

/// One story's cluster assignment, for `Store::set_clusters`.
pub fn assignment(
    story_id: &str,
    cluster_id: i64,
    signature: &[u8],
    story_time: chrono::DateTime<chrono::Utc>,
) -> ClusterAssignment {
    ClusterAssignment {
        story_id: story_id.to_string(),
        cluster_id,
        signature: signature.to_vec(),
        story_time,
    }
}
