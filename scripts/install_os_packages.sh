#!/usr/bin/env bash
# Install the Debian packages Lonewatch's tests use, when they are missing.
set -euo pipefail
needed=()
command -v chromium >/dev/null 2>&1 || needed+=(chromium)
command -v pdftotext >/dev/null 2>&1 || needed+=(poppler-utils)
# Benchmarks (make bench): HTTP load from a second process.
command -v wrk >/dev/null 2>&1 || needed+=(wrk)
if [ ${#needed[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${needed[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "run as root or install: ${needed[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
