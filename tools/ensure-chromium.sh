#!/usr/bin/env bash
# Brings Debian's Chromium for the browser tests where this machine allows it (root + apt-get), and says plainly
# when it cannot: those tests then skip with a reason. Called by `make test` (and so by .ci/run).
if command -v chromium >/dev/null 2>&1 || [ -n "${TCONV_CHROMIUM:-}" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the browser tests (apt-get install chromium) ..."
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); then
    exit 0
  fi
  echo "NOTE: Chromium could not be installed; the browser tests will be skipped."
else
  echo "NOTE: Chromium is not installed and this user cannot apt-get it; the browser tests will be skipped."
  echo "      (as root: apt-get install chromium, or set TCONV_CHROMIUM=/path/to/chromium)"
fi
exit 0
