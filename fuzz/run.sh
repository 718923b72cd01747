#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (seconds, default 60) and prints its execution count.
# cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 lets the stable toolchain build them, with
# coverage instrumentation and no sanitizer. Installs cargo-fuzz when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in query seconds url_policy pipeline_file; do
  mkdir -p "corpus/$target"
  result=$(cargo fuzz run --sanitizer none "$target" "corpus/$target" -- -max_total_time="$seconds" 2>&1 \
    | grep -E "^Done|panicked|SUMMARY" || true)
  echo "$target: $result"
  case "$result" in *panicked*|*SUMMARY*) exit 1 ;; esac
done
