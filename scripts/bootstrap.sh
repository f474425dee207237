#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: system
# packages, a Python 3.10 virtual environment and the project's dependencies.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# --- system packages -------------------------------------------------------
# espeak-ng/sox: speech synthesis and audio tools for voice/; chromium: browser tests of
# web/; fonts-noto-cjk: Chinese glyphs in the browser (screenshots are blank boxes without).
SYSTEM_PACKAGES=(espeak-ng libespeak-ng1 sox chromium fonts-noto-cjk)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing system packages with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q "${missing[@]}" >/dev/null
  }
fi

# --- Python 3.10 -------------------------------------------------------------
# Rasa 3.6 open source runs on Python < 3.11. A pyenv shim named python3.10 can
# exist without a working interpreter behind it, so each candidate is run.
works() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }
find_python() {
  local candidate
  for candidate in "$(command -v python3.10 || true)" \
      $(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -rV) \
      "${PYTHON:-}"; do
    if works "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! works .venv/bin/python; then
  if ! PY=$(find_python); then
    echo "Python 3.10 was not found: install it (for example 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv') or set PYTHON=/path/to/python3.10, then run this again." >&2
    exit 1
  fi
  say "creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
fi

# --- Python packages (one resolve from pyproject.toml) ----------------------
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python packages from pyproject.toml (first time takes a few minutes)"
  # Only pip itself: Rasa pins setuptools and packaging, which the next step installs.
  .venv/bin/python -m pip install -q --upgrade pip wheel
  .venv/bin/python -m pip install -q -e '.[test]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
say "ready"
