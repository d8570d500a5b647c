//! `bench all`: every benchmark at a modest size, one after the other, each as a child process
//! whose peak memory is measured, then a summary. Each child is started through `bench peak-of`,
//! which waits for it and reads `getrusage(RUSAGE_CHILDREN)`: the peak resident memory of the
//! largest process of that benchmark's tree (the harness itself, or the `verbatim serve` or
//! Python process it ran), kept apart from the other benchmarks'.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One benchmark of the suite.
pub struct Step {
    pub name: &'static str,
    /// The binary beside `bench` (`bench` itself for `parse`).
    pub binary: &'static str,
    pub args: Vec<String>,
    /// Programs that must be on PATH, else the step is skipped.
    pub tools: &'static [&'static str],
    /// Whether it runs the release `verbatim` binary.
    pub needs_verbatim: bool,
    /// Lines of its output kept for the summary: those containing any of these.
    pub keys: &'static [&'static str],
}

/// The suite, at sizes that take a few minutes in all on two cores.
pub fn steps() -> Vec<Step> {
    let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect();
    vec![
        Step {
            name: "parse",
            binary: "bench",
            args: args(&["parse", "--mb", "5", "--rounds", "5"]),
            tools: &[],
            needs_verbatim: false,
            keys: &["verbatim parse+normalize", "python feedparser"],
        },
        Step {
            name: "formats",
            binary: "formats",
            args: args(&["--mb", "2", "--rounds", "3"]),
            tools: &[],
            needs_verbatim: false,
            keys: &["Verbatim parse + normalize"],
        },
        Step {
            name: "latency",
            binary: "latency",
            args: args(&["--rounds", "50"]),
            tools: &[],
            needs_verbatim: true,
            keys: &["push → page", "push kill", "embargo time"],
        },
        Step {
            name: "steady",
            binary: "steady",
            args: args(&["--rate", "200", "--seconds", "20"]),
            tools: &[],
            needs_verbatim: true,
            keys: &["serve's CPU", "found by search"],
        },
        Step {
            name: "search",
            binary: "search",
            args: args(&["--stories", "100000"]),
            tools: &[],
            needs_verbatim: false,
            keys: &["indexed ", "| all |"],
        },
        Step {
            name: "page",
            binary: "page",
            args: args(&["--seconds", "5"]),
            tools: &["wrk", "nginx"],
            needs_verbatim: true,
            keys: &["| Verbatim", "| nginx"],
        },
        Step {
            name: "budget",
            binary: "budget",
            args: args(&["--stories", "20000"]),
            tools: &[],
            needs_verbatim: false,
            keys: &["| **all stages**", "perfectly shared", "The floors alone"],
        },
        Step {
            name: "ingest",
            binary: "ingest",
            args: args(&["--items", "10000"]),
            tools: &[],
            needs_verbatim: true,
            keys: &["| verbatim |", "| reader |"],
        },
    ]
}

/// Whether `program` is an executable file on PATH.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
                && std::fs::metadata(&candidate).is_ok_and(|meta| {
                    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0
                })
        })
    })
}

enum Status {
    Ok,
    Failed(String),
    Skipped(String),
}

struct Ran {
    name: &'static str,
    command: String,
    status: Status,
    seconds: f64,
    peak_kib: Option<u64>,
    kept: Vec<String>,
}

/// Why a step cannot run here, if it cannot.
fn skip_reason(step: &Step, dir: &Path) -> Option<String> {
    if let Some(tool) = step.tools.iter().find(|tool| !on_path(tool)) {
        return Some(format!(
            "{tool} is not installed (apt-get install wrk nginx)"
        ));
    }
    if !dir.join(step.binary).exists() {
        return Some(format!(
            "{} not built: cargo build --release -p bench",
            step.binary
        ));
    }
    if step.needs_verbatim
        && std::env::var_os("VERBATIM_BIN").is_none()
        && !dir.join("verbatim").exists()
    {
        return Some("verbatim not built: cargo build --release".into());
    }
    None
}

fn run_step(step: &Step, bench: &Path, dir: &Path) -> Ran {
    let command = format!("{} {}", step.binary, step.args.join(" "));
    let mut ran = Ran {
        name: step.name,
        command,
        status: Status::Ok,
        seconds: 0.0,
        peak_kib: None,
        kept: Vec::new(),
    };
    if let Some(why) = skip_reason(step, dir) {
        println!("\n=== {}: skipped: {why}", step.name);
        ran.status = Status::Skipped(why);
        return ran;
    }
    println!("\n=== {}: {}", step.name, ran.command);
    let report = std::env::temp_dir().join(format!(
        "verbatim-bench-peak-{}-{}",
        std::process::id(),
        step.name
    ));
    let started = Instant::now();
    let child = Command::new(bench)
        .arg("peak-of")
        .arg(&report)
        .arg(dir.join(step.binary))
        .args(&step.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            ran.status = Status::Failed(error.to_string());
            return ran;
        }
    };
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if step.keys.iter().any(|key| line.contains(key)) {
                ran.kept.push(line.trim().to_string());
            }
        }
    }
    ran.seconds = started.elapsed().as_secs_f64();
    match child.wait() {
        Ok(status) if status.success() => {}
        Ok(status) => ran.status = Status::Failed(status.to_string()),
        Err(error) => ran.status = Status::Failed(error.to_string()),
    }
    ran.peak_kib = std::fs::read_to_string(&report)
        .ok()
        .and_then(|text| text.trim().parse().ok());
    let _ = std::fs::remove_file(&report);
    ran
}

/// Runs every step; returns the process's exit code (1 if any step failed).
pub fn run_all(only: &[String]) -> i32 {
    let bench = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    let known: Vec<&str> = steps().iter().map(|step| step.name).collect();
    if let Some(unknown) = only.iter().find(|name| !known.contains(&name.as_str())) {
        eprintln!(
            "unknown benchmark {unknown:?}; the suite has: {}",
            known.join(", ")
        );
        return 2;
    }
    let dir: PathBuf = bench
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    println!(
        "Verbatim benchmark suite: {} cores; each benchmark a child process, its peak memory measured",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let started = Instant::now();
    let ran: Vec<Ran> = steps()
        .iter()
        .filter(|step| only.is_empty() || only.iter().any(|name| name == step.name))
        .map(|step| run_step(step, &bench, &dir))
        .collect();
    println!(
        "\n=== summary ({:.0} s in all)\n",
        started.elapsed().as_secs_f64()
    );
    println!("| benchmark | command | result | wall s | peak MB (largest process) |");
    println!("|---|---|---|---:|---:|");
    for run in &ran {
        let (result, seconds, peak) = match &run.status {
            Status::Skipped(why) => (format!("skipped: {why}"), "—".into(), "—".into()),
            status => (
                match status {
                    Status::Failed(why) => format!("FAILED: {why}"),
                    _ => "ok".into(),
                },
                format!("{:.1}", run.seconds),
                run.peak_kib
                    .map_or("?".into(), |kib| format!("{:.0}", kib as f64 / 1024.0)),
            ),
        };
        println!(
            "| {} | `{}` | {result} | {seconds} | {peak} |",
            run.name, run.command
        );
    }
    println!("\nkey lines:");
    for run in &ran {
        for line in &run.kept {
            println!("  {:<8} {line}", run.name);
        }
    }
    i32::from(
        ran.iter()
            .any(|run| matches!(run.status, Status::Failed(_))),
    )
}

/// `bench peak-of REPORT PROGRAM ARGS…`: runs PROGRAM, then writes the peak resident memory of
/// the largest process it and its children had (KiB) to REPORT; exits as PROGRAM did.
pub fn peak_of(args: &[String]) -> i32 {
    let [report, program, rest @ ..] = args else {
        eprintln!("usage: bench peak-of REPORT PROGRAM [ARGS…]");
        return 2;
    };
    let status = match Command::new(program).args(rest).status() {
        Ok(status) => status,
        Err(error) => {
            eprintln!("cannot run {program}: {error}");
            return 1;
        }
    };
    if let Some(kib) = crate::memory::largest_child_kib() {
        let _ = std::fs::write(report, kib.to_string());
    }
    status.code().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_keeps_some_lines_and_has_a_binary() {
        for step in steps() {
            assert!(!step.keys.is_empty(), "{}", step.name);
            assert!(!step.binary.is_empty(), "{}", step.name);
        }
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(on_path("sh"));
        assert!(!on_path("surely-no-such-program-here"));
    }

    #[test]
    fn peak_of_reports_the_child() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let report = dir.path().join("peak");
        let code = peak_of(&[
            report.display().to_string(),
            "sh".into(),
            "-c".into(),
            "exit 3".into(),
        ]);
        assert_eq!(code, 3);
        let kib: u64 = std::fs::read_to_string(&report)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        assert!(kib > 0);
    }
}
