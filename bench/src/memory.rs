//! Peak resident memory of processes, read from the kernel: a live process's high-water mark
//! (`VmHWM` in `/proc/PID/status`), and after children have exited and been waited for, the
//! largest of them (`getrusage(RUSAGE_CHILDREN).ru_maxrss`, which also covers their own waited
//! children: the largest single process of the tree).

/// The peak resident memory of a live process so far, in KiB; `None` once it has exited.
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field_kib(&status, "VmHWM:")
}

/// The resident memory of a live process now, in KiB.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field_kib(&status, "VmRSS:")
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The peak resident memory of the largest child (or waited grandchild) that has exited and
/// been waited for, in KiB (Linux reports `ru_maxrss` in KiB).
pub fn largest_child_kib() -> Option<u64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    u64::try_from(usage.max_rss()).ok()
}

/// KiB as MB (MiB), for reports.
pub fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_in_kib() {
        let status = "Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t  1000 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), Some(123_456));
        assert_eq!(field_kib(status, "VmRSS:"), Some(1_000));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        let peak = peak_kib(std::process::id()).unwrap_or(0);
        assert!(peak > 0);
    }

    #[test]
    fn a_waited_child_is_counted() {
        let status = std::process::Command::new("true").status();
        if status.is_ok() {
            assert!(largest_child_kib().unwrap_or(0) > 0);
        }
    }
}
