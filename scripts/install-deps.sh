#!/usr/bin/env bash
# Installs the Debian 12 packages tern needs, only those missing. Needs root (or sudo) when
# something is missing; does nothing otherwise.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libgnutls28-dev gnutls-bin libcmocka-dev clang
      libclang-rt-14-dev ngtcp2-server ngtcp2-client openssl xxd iproute2 procps
      media-types chromium gcovr tshark tcpdump ethtool python3 python3-jsonschema nodejs
      groff-base man-db)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
