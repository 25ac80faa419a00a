#!/usr/bin/env bash
# Set up netlessons on Debian or Ubuntu: the system tools the lessons use, then a virtual environment in
# .venv with netlessons installed from this folder (not editable). With --test, also what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages="python3-venv python3-pip iproute2 bridge-utils iputils-ping util-linux procps nftables iptables curl containernetworking-plugins dnsmasq-base"
# The tests also check the HTML handout in a real headless browser.
if [ "$with_tests" = 1 ]; then packages="$packages chromium"; fi
echo "netlessons setup: installing system packages: $packages"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null

echo "netlessons setup: creating .venv"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install -q ".[test]"
else
  .venv/bin/python -m pip install -q .
fi
echo "netlessons setup: done. Run lessons with .venv/bin/netlessons (or add .venv/bin to PATH)."
