//! A private PostgreSQL server for tests: `initdb` into a temporary folder, started on a free
//! loopback port, stopped and deleted again when dropped (or when the test process ends). Only
//! std and tempfile, so any test of any crate can use it; only ever listens on 127.0.0.1.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

/// The environment variable that turns "PostgreSQL is not installed" from a skip into an error.
pub const REQUIRE_ALL: &str = "VERBATIM_REQUIRE_ALL";

/// A running throwaway server. Databases are made with [`ThrowawayPostgres::create_database`].
pub struct ThrowawayPostgres {
    bin: PathBuf,
    port: u16,
    /// Holds the data folder (`data/`), the socket and the log file.
    dir: Option<tempfile::TempDir>,
    /// Runs server commands as the `postgres` user (we are root, and initdb refuses root).
    as_postgres: bool,
    /// A shell that stops the server and deletes the folder when its stdin closes, which
    /// happens at the latest when this process ends: a server kept in a `static` (never
    /// dropped) or a test that aborts leaves nothing running behind it.
    guardian: Option<(Child, ChildStdin)>,
}

impl std::fmt::Debug for ThrowawayPostgres {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ThrowawayPostgres")
            .field("bin", &self.bin)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl ThrowawayPostgres {
    /// Starts a server. `Ok(None)` (with the reason on stderr) when PostgreSQL is not installed,
    /// unless `VERBATIM_REQUIRE_ALL=1`, which makes that an error.
    pub fn start() -> Result<Option<ThrowawayPostgres>, String> {
        let bin = match Self::bin_dir() {
            Ok(bin) => bin,
            Err(reason) => {
                if std::env::var(REQUIRE_ALL).is_ok_and(|value| value == "1") {
                    return Err(format!("{reason} ({REQUIRE_ALL}=1)"));
                }
                eprintln!("throwaway PostgreSQL unavailable: {reason}");
                return Ok(None);
            }
        };
        let as_postgres = running_as_root();
        if as_postgres && find_in_path("runuser").is_none() {
            return Err(
                "running as root, and runuser (to run initdb as postgres) is missing".into(),
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("verbatim-pg-")
            .tempdir()
            .map_err(|error| format!("temporary folder: {error}"))?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir.path())).map_err(|error| {
                format!("chown of {} to postgres: {error}", dir.path().display())
            })?;
        }
        let mut server = ThrowawayPostgres {
            bin,
            port: 0,
            dir: Some(dir),
            as_postgres,
            guardian: None,
        };
        let data = server.data_dir()?;
        let mut initdb = server.server_command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        run(&mut initdb).map_err(|error| format!("initdb: {error}"))?;
        server.guardian = server.spawn_guardian().ok();
        // A port found free may be taken before the server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            server.port = free_port()?;
            match server.pg_ctl_start() {
                Ok(()) => return Ok(Some(server)),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// The folder with `initdb` and `pg_ctl`: from PATH, else the newest
    /// `/usr/lib/postgresql/*/bin`. `Err` says why none was found.
    pub fn bin_dir() -> Result<PathBuf, String> {
        if let Some(initdb) = find_in_path("initdb") {
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            if let Some(dir) = real.parent()
                && dir.join("pg_ctl").is_file()
            {
                return Ok(dir.to_path_buf());
            }
        }
        let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let version = name
                    .split('.')
                    .map(|part| part.parse::<u64>().ok())
                    .collect::<Option<Vec<u64>>>()?;
                let bin = entry.path().join("bin");
                (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
                    .then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
            "PostgreSQL not found (no initdb and pg_ctl in PATH or /usr/lib/postgresql/*/bin)"
                .to_string()
        })
    }

    /// The port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database (default locale: C) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        self.create_database_with(name, &[])
    }

    /// Creates a database with extra `createdb` options (e.g. an ICU locale, to check that
    /// nothing depends on the database's collation) and returns its URL.
    pub fn create_database_with(&self, name: &str, options: &[&str]) -> Result<String, String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("database name {name:?}: use letters, digits and _"));
        }
        let mut createdb = Command::new(self.client("createdb"));
        createdb
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(options)
            .arg(name)
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE");
        run(&mut createdb).map_err(|error| format!("createdb {name}: {error}"))?;
        Ok(self.url(name))
    }

    fn dir(&self) -> Result<&Path, String> {
        self.dir
            .as_ref()
            .map(|dir| dir.path())
            .ok_or_else(|| "the server's folder is gone".to_string())
    }

    fn data_dir(&self) -> Result<PathBuf, String> {
        Ok(self.dir()?.join("data"))
    }

    fn log_file(&self) -> Result<PathBuf, String> {
        Ok(self.dir()?.join("log"))
    }

    /// A client program (createdb, psql): beside initdb, else from PATH.
    fn client(&self, name: &str) -> PathBuf {
        let beside = self.bin.join(name);
        if beside.is_file() {
            beside
        } else {
            PathBuf::from(name)
        }
    }

    /// A server program, run as `postgres` when we are root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let dir = self.dir()?;
        let log = self.log_file()?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            dir.display()
        );
        let mut start = self.server_command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir()?)
            .arg("-w")
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(options)
            .arg("start")
            // The server must not hold our stdout/stderr open (cargo test would wait on them).
            .stdin(Stdio::null());
        run(&mut start).map_err(|error| {
            format!(
                "pg_ctl start on port {}: {error}\nlog tail:\n{}",
                self.port,
                tail(&log, 20)
            )
        })?;
        Ok(())
    }

    fn spawn_guardian(&self) -> Result<(Child, ChildStdin), String> {
        let dir = self.dir()?;
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = format!(
            "{}'{}' -D '{}' -m immediate stop",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl.display(),
            self.data_dir()?.display()
        );
        let script = format!(
            "cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf '{}'",
            dir.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("guardian: {error}"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| "guardian: no stdin".to_string())?;
        Ok((child, stdin))
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        if let Ok(data) = self.data_dir() {
            let mut stop = self.server_command("pg_ctl");
            stop.arg("-D")
                .arg(data)
                .args(["-m", "immediate", "stop"])
                .stdin(Stdio::null());
            let _ = stop.output();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        if let Some((mut child, mut stdin)) = self.guardian.take() {
            let _ = stdin.flush();
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no free port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// Runs a command to its end; `Err` with its output unless it succeeded.
fn run(command: &mut Command) -> Result<Output, String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run {:?}: {error}", command.get_program()))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{} failed ({}):\n{}{}",
            command.get_program().to_string_lossy(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The last `lines` lines of a file (for error messages).
fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("({}: {error})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_creates_a_database_and_stops() -> Result<(), String> {
        let Some(server) = ThrowawayPostgres::start()? else {
            eprintln!("skipped: PostgreSQL not installed");
            return Ok(());
        };
        let url = server.create_database("probe")?;
        assert_eq!(url, server.url("probe"));
        assert!(url.starts_with("postgres://postgres@127.0.0.1:"));
        let dir = server.dir()?.to_path_buf();
        let port = server.port();
        drop(server);
        assert!(!dir.exists(), "the folder is removed");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server is stopped"
        );
        Ok(())
    }
}
