#!/usr/bin/env bash
# Finds a headless-capable Chromium for the report's browser test, or installs
# Debian's chromium package, and exports REKON_CHROMIUM. Sourced by
# scripts/test. Fails loudly: the browser test never skips.
#
# Order: REKON_CHROMIUM, then chromium / chromium-browser / google-chrome /
# google-chrome-stable on PATH, then `apt-get install chromium` when running
# as root (or with passwordless sudo).

find_chromium() {
  local name
  if [ -n "${REKON_CHROMIUM:-}" ] && [ -x "$REKON_CHROMIUM" ]; then
    echo "$REKON_CHROMIUM"; return 0
  fi
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

install_chromium() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || return 1
    sudo="sudo -n"
  fi
  echo "ensure-chromium: installing Debian's chromium package" >&2
  $sudo apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

ensure_chromium() {
  local found
  if found=$(find_chromium) || { install_chromium && found=$(find_chromium); }; then
    export REKON_CHROMIUM=$found
    return 0
  fi
  echo "ensure-chromium: FAILED: no chromium, chromium-browser or google-chrome found, and it could not be installed." >&2
  echo "  Install one, or set REKON_CHROMIUM=/path/to/chromium." >&2
  return 1
}

ensure_chromium
