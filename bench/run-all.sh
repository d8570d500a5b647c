#!/bin/sh
# Builds the release `verbatim` binary and every benchmark, then runs the whole suite at modest
# sizes (parse, formats, latency, search at 100k, page when wrk and nginx are installed, ingest
# against Python reader), each as a child process with its peak memory, and prints a summary.
# Arguments name a subset: bench/run-all.sh ingest search
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p verbatim -p bench
exec "${CARGO_TARGET_DIR:-target}/release/bench" all "$@"
