#!/usr/bin/env bash
# Headless Chromium for the browser test: Debian's `chromium` package, never a download.
#
#   scripts/chromium.sh install   apt-get install chromium (and a font) if missing
#   scripts/chromium.sh path      print the browser's path (exit 1 when missing)
#
# Playwright drives it through executable_path; `playwright install` (which downloads
# a browser build) is never run. Idempotent.
set -euo pipefail

BROWSER=/usr/bin/chromium

log() { echo "chromium: $*" >&2; }
die() { echo "chromium: error: $*" >&2; exit 1; }

installed() {
  [[ -x "$BROWSER" ]] && fc-list 2>/dev/null | grep -qi dejavu
}

cmd_install() {
  if installed; then
    log "$("$BROWSER" --version 2>/dev/null | head -n 1) at $BROWSER"
    return 0
  fi
  local sudo=""
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null || die "chromium is missing and we are not root (apt-get install chromium fonts-dejavu-core)"
    sudo="sudo"
  fi
  log "installing Debian's chromium and a font (apt-get)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-dejavu-core fontconfig >/dev/null
  [[ -x "$BROWSER" ]] || die "apt-get did not install $BROWSER"
  log "$("$BROWSER" --version 2>/dev/null | head -n 1) at $BROWSER"
}

case "${1:-}" in
  install) cmd_install ;;
  path) [[ -x "$BROWSER" ]] && echo "$BROWSER" || exit 1 ;;
  *)
    echo "usage: $0 {install|path}" >&2
    exit 2
    ;;
esac
