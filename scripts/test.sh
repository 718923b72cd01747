#!/usr/bin/env bash
# Installs what is missing, then checks formatting and lints and runs the whole test suite:
# real GStreamer pipelines on media the tests make, over real HTTP on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing "${PYTHUMBIO_PACKAGES[@]}" "${PYTHUMBIO_TEST_PACKAGES[@]}"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked "$@"
