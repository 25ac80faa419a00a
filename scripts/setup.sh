#!/usr/bin/env bash
# Set up netlessons on Debian or Ubuntu: the system packages the lessons use, then a virtual environment in
# .venv with netlessons installed from this folder (not editable).
#
#   bash scripts/setup.sh [--test] [--bench] [--no-apt] [--no-venv] [--list-packages]
#
#   --test           also what the test suite needs (a headless browser, tmux, pytest, shellcheck)
#   --bench          also Debian's mininet, which the benchmarks compare against
#   --no-apt         never call apt-get; only say which packages are missing
#   --no-venv        only the system packages (an administrator preparing a machine for a class)
#   --list-packages  print the packages these options need, one a line, and change nothing
#
# apt-get runs (as root, or through sudo) only for packages that dpkg says are missing, so a student whose
# machine already has them needs no sudo. The venv is built with Debian's /usr/bin/python3 when there is one,
# and made readable by every account, so one venv can serve a whole class.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '5,11s/^# \{0,1\}//p' "$0"; }

with_tests=0 with_bench=0 use_apt=1 list_only=0 make_venv=1
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    --bench) with_bench=1 ;;
    --no-apt) use_apt=0 ;;
    --no-venv) make_venv=0 ;;
    --list-packages) list_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scripts/setup.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

# What the lessons run (ip, bridge, brctl, ping, unshare, sysctl, iptables, curl, python3, dnsmasq, the CNI
# bridge plugin), what a learner captures packets with (tcpdump) and what draws diagrams (dot, in graphviz).
packages=(python3 python3-venv python3-pip iproute2 bridge-utils iputils-ping util-linux procps iptables curl
          containernetworking-plugins dnsmasq-base tcpdump graphviz nftables ipset)
# The tests: the HTML handout in a real headless browser (and its print, read back with pdftotext), and
# interactive features driven in tmux.
if [ "$with_tests" = 1 ]; then packages+=(chromium poppler-utils tmux); fi
if [ "$with_bench" = 1 ]; then packages+=(mininet); fi

if [ "$list_only" = 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
if ! command -v dpkg-query >/dev/null; then
  if [ "$use_apt" = 1 ]; then
    echo "scripts/setup.sh: this is not Debian or Ubuntu (no dpkg). Install the equivalents of: ${packages[*]}" >&2
    echo "then run: bash scripts/setup.sh --no-apt" >&2
    exit 3
  fi
  echo "netlessons setup: no dpkg here, so the system packages are not checked (--no-apt)"
else
  for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
  done
fi

if ! command -v dpkg-query >/dev/null; then
  :
elif [ "${#missing[@]}" = 0 ]; then
  echo "netlessons setup: system packages present"
elif [ "$use_apt" = 0 ]; then
  echo "netlessons setup: missing system packages (not installed: --no-apt): ${missing[*]}" >&2
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "scripts/setup.sh: these system packages are missing: ${missing[*]}" >&2
      echo "installing them needs root, and sudo is not here: ask an administrator to run" >&2
      echo "  apt-get install ${missing[*]}" >&2
      echo "or run: bash scripts/setup.sh --no-apt (the lessons that need them will then say so)" >&2
      exit 3
    fi
    sudo="sudo"
  fi
  echo "netlessons setup: installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$make_venv" = 0 ]; then
  echo "netlessons setup: done (no venv: --no-venv)."
  exit 0
fi

# Debian's own python3 lives where every account can run it; a pyenv or conda python3 first on PATH may live
# in a home folder other accounts cannot enter.
python=python3
if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; fi
if [ "$python" = /usr/bin/python3 ] && [ -e .venv/bin/python ] \
    && [ "$(readlink -f .venv/bin/python)" != "$(readlink -f /usr/bin/python3)" ]; then
  echo "netlessons setup: .venv was made with $(readlink -f .venv/bin/python); making it again with $python"
  rm -rf .venv
fi
echo "netlessons setup: creating .venv with $python"
"$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install -q ".[test]"
else
  .venv/bin/python -m pip install -q .
fi
# Readable and runnable by every account, whatever the umask was.
chmod -R a+rX .venv
closed=""
dir="$PWD"
while [ "$dir" != / ]; do
  if [ "$(stat -c %A "$dir" | cut -c10)" != x ] && [ "$(stat -c %A "$dir" | cut -c10)" != t ]; then closed="$dir"; fi
  dir="$(dirname "$dir")"
done
if [ -n "$closed" ]; then
  echo "netlessons setup: note: other accounts cannot enter $closed, so only you can use this .venv"
fi
echo "netlessons setup: done. Run lessons with .venv/bin/netlessons (or add .venv/bin to PATH)."
