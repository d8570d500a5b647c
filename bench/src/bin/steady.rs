//! A steady wire, not a burst: `verbatim serve` takes a push of stories every 100 ms for a while
//! (RSS 2.0, the ingest benchmark's stories), and the benchmark reports the CPU `serve` used a
//! story and how long a story took to be found by a search. The burst benchmark (`ingest`)
//! measures the most `serve` can take; this one what a publisher's server spends at an
//! ordinary rate, where the search follower keeps up and commits what each tick brought.
//!
//! Run: `cargo build --release && cargo run --release -p bench --bin steady -- [--rate 200]
//! [--seconds 30]`. The verbatim binary is found beside this one or at `$VERBATIM_BIN`, so two
//! builds can be compared in turn.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bench::serve::{add_push_source, cpu_seconds, percentile, verbatim_binary};
use bench::wire::{self, Syndication};

type Result<T> = std::result::Result<T, String>;

/// Pushes a second (the push source's default limit is 50 a second).
const PUSHES_A_SECOND: u32 = 10;
/// How often a probe story is pushed and searched for.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How often a probe is searched for until found: the searches are `serve`'s work too, so
/// they are kept to a few a second (at 5 ms they took a sixth of its CPU at 200 stories/s).
const PROBE_POLL: Duration = Duration::from_millis(25);
/// How long a probe may take to be found before the run fails.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

struct Pusher {
    client: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Pusher {
    /// Pushes one payload; returns how many stories were accepted.
    fn push(&self, body: String, content_type: &str) -> Result<usize> {
        let accepted = bench::serve::push(
            &self.client,
            &self.base,
            "wire",
            &self.token,
            Some(content_type),
            body,
        )?;
        Ok(accepted.len())
    }

    /// Whether a search for `word` finds a story.
    fn found(&self, word: &str) -> bool {
        self.client
            .get(format!("{}/api/v1/items?q={word}&limit=1", self.base))
            .send()
            .ok()
            .and_then(|response| response.json::<serde_json::Value>().ok())
            .and_then(|answer| answer["items"].as_array().map(|items| !items.is_empty()))
            .unwrap_or(false)
    }
}

/// A story like the others (a short one would be held by the gate as far shorter than the
/// source's usual), with a word of its own to search for.
fn probe_story(round: usize, reference: chrono::DateTime<chrono::Utc>) -> String {
    let story = wire::story(1_000_000_000 + round, reference);
    serde_json::json!({
        "uri": format!("urn:bench:steady:probe:{round}"),
        "version": "1",
        "pubstatus": "usable",
        "headline": story.headline,
        "body_html": format!("{}<p>The probe's own word is zqprobe{round}.</p>", story.html),
    })
    .to_string()
}

/// What one run measured.
struct Outcome {
    accepted: usize,
    /// `serve`'s CPU over the window.
    cpu: Duration,
    /// From the first push to the CPU's second reading.
    window: Duration,
    /// From the first push to the end of the last.
    pushes_took: Duration,
    /// Push → found by search, one a probe.
    probes: Vec<Duration>,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn run() -> Result<()> {
    let (mut rate, mut seconds) = (200u32, 30u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64> {
            args.next()
                .and_then(|value| value.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--rate" => rate = number("--rate")? as u32,
            "--seconds" => seconds = number("--seconds")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(PUSHES_A_SECOND..=20_000).contains(&rate) || !rate.is_multiple_of(PUSHES_A_SECOND) {
        return Err(format!(
            "--rate must be a multiple of {PUSHES_A_SECOND} from {PUSHES_A_SECOND} to 20000"
        ));
    }
    if !(5..=3_600).contains(&seconds) {
        return Err("--seconds must be from 5 to 3600".into());
    }
    let per_push = (rate / PUSHES_A_SECOND) as usize;
    let pushes = seconds as usize * PUSHES_A_SECOND as usize;
    let reference = chrono::Utc::now();
    // Generated before the clock starts, so the benchmark's own work does not share the run.
    let payloads: Vec<String> = (0..pushes)
        .map(|push| {
            wire::feed(
                "steady",
                push * per_push..(push + 1) * per_push,
                Syndication::Rss2,
                reference,
            )
        })
        .collect();

    let binary = verbatim_binary()?;
    let data = std::env::temp_dir().join(format!("verbatim-steady-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let token = add_push_source(&binary, &data, &[] as &[&str], "wire")?;
    let (mut child, base) = bench::serve::start(&binary, &data, std::iter::empty::<&str>())?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| error.to_string())?;
    let pusher = Pusher {
        client,
        base,
        token,
    };
    println!(
        "verbatim serve taking {rate} stories/s ({PUSHES_A_SECOND} pushes of {per_push} a second, RSS 2.0) \
         for {seconds} s; a probe story every {} ms, searched for every {} ms until found ({} cores)",
        PROBE_EVERY.as_millis(),
        PROBE_POLL.as_millis(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let running = AtomicBool::new(true);
    let outcome = std::thread::scope(|scope| -> Result<Outcome> {
        let prober = scope.spawn(|| -> Result<Vec<Duration>> {
            let mut found = Vec::new();
            let mut round = 0;
            while running.load(Ordering::Relaxed) {
                let next = Instant::now() + PROBE_EVERY;
                let pushed = Instant::now();
                pusher.push(probe_story(round, reference), "application/json")?;
                let word = format!("zqprobe{round}");
                loop {
                    if pusher.found(&word) {
                        found.push(pushed.elapsed());
                        break;
                    }
                    if pushed.elapsed() > PROBE_TIMEOUT {
                        return Err(format!("probe {round} not found within {PROBE_TIMEOUT:?}"));
                    }
                    std::thread::sleep(PROBE_POLL);
                }
                round += 1;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            Ok(found)
        });
        let serve_cpu = || {
            cpu_seconds(child.id())
                .map(Duration::from_secs_f64)
                .ok_or_else(|| "cannot read serve's CPU time".to_string())
        };
        let cpu_before = serve_cpu()?;
        let started = Instant::now();
        let mut accepted = 0;
        let mut pushed = Ok(());
        for (push, payload) in payloads.into_iter().enumerate() {
            let due = started + Duration::from_secs_f64(push as f64 / PUSHES_A_SECOND as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            match pusher.push(payload, Syndication::Rss2.content_type()) {
                Ok(count) => accepted += count,
                Err(error) => {
                    pushed = Err(error);
                    break;
                }
            }
        }
        // A push returns once its stories are stored, so pushes that end late mean `serve`
        // could not keep up with the rate.
        let pushes_took = started.elapsed();
        // One more second for the last pushes to be indexed, within the CPU window.
        std::thread::sleep(
            (started + Duration::from_secs(seconds + 1)).saturating_duration_since(Instant::now()),
        );
        let cpu = serve_cpu()?.saturating_sub(cpu_before);
        let window = started.elapsed();
        running.store(false, Ordering::Relaxed);
        let probes = prober
            .join()
            .map_err(|_| "the probe thread panicked".to_string())??;
        pushed?;
        Ok(Outcome {
            accepted,
            cpu,
            window,
            pushes_took,
            probes,
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
    let Outcome {
        accepted,
        cpu,
        window,
        pushes_took,
        mut probes,
    } = outcome?;
    probes.sort();
    println!(
        "stories accepted {accepted}, the last push done at {:.1} s of {seconds} s planned ({}); \
         serve's CPU {:.2} s over {:.1} s: {:.1} % of one core, {:.0} µs a story",
        pushes_took.as_secs_f64(),
        if pushes_took.as_secs_f64() <= seconds as f64 + 0.5 {
            "kept up"
        } else {
            "fell behind"
        },
        cpu.as_secs_f64(),
        window.as_secs_f64(),
        cpu.as_secs_f64() * 100.0 / window.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / accepted.max(1) as f64
    );
    println!(
        "push → found by search ({} probes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (within a second: goal)",
        probes.len(),
        millis(percentile(&probes, 0.5).unwrap_or_default()),
        millis(percentile(&probes, 0.99).unwrap_or_default()),
        millis(probes.last().copied().unwrap_or_default())
    );
    Ok(())
}
