#!/bin/sh
# Builds the release `verbatim` binary and every benchmark, then runs the whole suite at modest
# sizes (parse, formats, latency, a steady wire, search at 100k, page when wrk and nginx are installed, the
# ingest path's CPU budget, ingest against Python reader), each as a child process with its
# peak memory, and prints a summary.
# Arguments name a subset: bench/run-all.sh ingest search
set -eu
cd "$(dirname "$0")/.."
# Two builds, not one `-p verbatim -p bench`: built together, cargo unifies their dependencies'
# features and compiles a second copy of everything (half an hour on two cores).
cargo build --release
cargo build --release -p bench
exec "${CARGO_TARGET_DIR:-target}/release/bench" all "$@"
