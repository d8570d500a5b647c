//! The Python virtualenv with the peers the benchmarks compare against, made from PyPI on first
//! use: `$VERBATIM_BENCH_VENV`, else `~/.cache/verbatim-bench-venv`.

use std::path::PathBuf;
use std::process::Command;

/// The virtualenv's folder.
pub fn venv_dir() -> PathBuf {
    std::env::var("VERBATIM_BENCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/verbatim-bench-venv")
        })
}

/// The virtualenv's `python`, with every module of `packages` importable: each pair is
/// (module to import, PyPI package to install when it is missing). `None` (with the reason on
/// stderr) when Python or PyPI is not available.
pub fn python_with(packages: &[(&str, &str)]) -> Option<PathBuf> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("making the Python virtualenv {}", venv.display());
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|status| status.success());
        if !made {
            eprintln!("no Python peers: cannot make the virtualenv (python3 -m venv)");
            return None;
        }
    }
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(module, _)| {
            !Command::new(&python)
                .args(["-c", &format!("import {module}")])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "installing {} into {} from PyPI",
            missing.join(", "),
            venv.display()
        );
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "-q"])
            .args(&missing)
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            eprintln!(
                "no Python peers: pip could not install {}",
                missing.join(", ")
            );
            return None;
        }
    }
    Some(python)
}
