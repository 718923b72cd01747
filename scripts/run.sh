#!/usr/bin/env bash
# Installs what is missing, builds pythumbio in release mode and serves on :8000
# (PYTHUMBIO_PORT and the other PYTHUMBIO_* variables apply).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing "${PYTHUMBIO_PACKAGES[@]}"
exec cargo run --release --locked -- "$@"
