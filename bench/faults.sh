#!/usr/bin/env bash
# The long fault runs, which CI skips: 1000 requests cancelled at random moments (pipelines,
# threads, descriptors and RSS before and after), a client reading /webm at 10 KB/s for 20 s, and
# RSS after a burst of 200 mixed requests on a 1080p source once the service is quiet.
# Prints the figures the README quotes. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing "${PYTHUMBIO_PACKAGES[@]}" "${PYTHUMBIO_TEST_PACKAGES[@]}"
PYTHUMBIO_FAULT_COUNT=${PYTHUMBIO_FAULT_COUNT:-1000} \
  cargo test --locked --test faults -- --include-ignored --nocapture --test-threads=1 2>&1 \
  | grep -E "cancellations in|10 KB/s reader|memory when quiet|^test |panicked|RSS"
