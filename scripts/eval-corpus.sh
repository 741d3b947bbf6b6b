#!/usr/bin/env bash
# Installs the offline evaluation corpus — Debian's postgresql-doc-15, the PostgreSQL 15 manual as ~1,200 HTML
# pages that nobody on this project wrote — and prints its path on stdout (progress goes to stderr).
# Idempotent: an existing install is reused without touching apt. Needs root (or sudo) only the first time.
set -euo pipefail

package=postgresql-doc-15
corpus=/usr/share/doc/$package/html

if [ ! -f "$corpus/index.html" ]; then
  # Docker images often exclude /usr/share/doc from dpkg installs; the corpus lives there, so say why it is missing.
  if grep -qs 'path-exclude=/usr/share/doc' /etc/dpkg/dpkg.cfg.d/* 2>/dev/null; then
    echo "warning: dpkg excludes /usr/share/doc here (see /etc/dpkg/dpkg.cfg.d); $package's html may not land" >&2
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: installing $package needs root or sudo" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing $package (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Only refresh the package lists when apt does not know the package yet: a second run stays offline.
  apt-cache show "$package" >/dev/null 2>&1 || $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "$package" >&2
fi

if [ ! -f "$corpus/index.html" ]; then
  echo "error: $package is installed but $corpus/index.html is missing" >&2
  exit 1
fi
echo "$corpus"
