#!/usr/bin/env bash
# Installs the offline evaluation corpora — Debian documentation packages nobody on this project wrote — and prints
# each corpus path on stdout (progress goes to stderr).
#   postgres: postgresql-doc-15, the PostgreSQL 15 manual (~1,200 HTML pages): eval/questions.json
#   django:   python-django-doc, the Django 3.2 documentation (a Sphinx tree, ~700 pages): eval/django/
#   pytest:   python-pytest-doc, the pytest 7.2 documentation (a Sphinx tree, ~250 pages): eval/pytest/
#   git:      git-doc, the git 2.39 manual pages, user manual and how-tos (AsciiDoc HTML, 241 pages): eval/git/ (test only)
#   sqlite:   sqlite3-doc, SQLite 3.40's own documentation (hand-written HTML, not Sphinx, 766 pages): eval/sqlite/ (test only)
#   celery:   python-celery-doc, the Celery 5.2 documentation (a Sphinx tree, ~350 pages): eval/celery/ (test only)
#   apache:   apache2-doc, the Apache httpd 2.4 manual, its English pages (XML rendered by XSLT, 244 pages): eval/apache/ (test only)
#   postfix:  postfix-doc, the Postfix 3.7 README guides and manual pages (plain HTML, 136 pages): eval/postfix/ (test only)
#   node:     nodejs-doc, the Node.js 18 API documentation, one HTML page per module (65 pages), unpacked to /opt, not
#             installed (see unpack_corpus): eval/node/ (test only)
#   cmake:    cmake-doc, the CMake 3.25 documentation (a Sphinx tree, 1,936 pages; the HTML lives under cmake-data's doc folder): eval/cmake/ (test only)
#   sqlalchemy: python-sqlalchemy-doc, the SQLAlchemy 1.4 documentation (a Sphinx tree, 224 pages): eval/sqlalchemy/ (test only)
#   exim4:    exim4-doc-html, the Exim 4.96 specification, one HTML page per chapter (70 pages): eval/exim4/ (test only)
#   werkzeug: python-werkzeug-doc, the Werkzeug 2.2 documentation (a Sphinx tree, 43 HTML pages): eval/werkzeug/ (test only)
#   flask:    python-flask-doc, the Flask 2.2 documentation (a Sphinx tree, 77 HTML pages): eval/flask/ (test only)
#   zsh:      zsh-doc, the zsh 5.9 manual (texinfo HTML, 186 pages, 144 of them redirect stubs): eval/zsh/ (test only)
# Usage: scripts/eval-corpus.sh [postgres|django|pytest|git|sqlite|celery|apache|postfix|node|cmake|sqlalchemy|exim4|werkzeug|flask|zsh|all]   (default: postgres, one path, as the README uses it)
# Idempotent: an existing install is reused without touching apt. Needs root (or sudo) only the first time.
set -euo pipefail

install_corpus() {
  local package=$1 corpus=$2
  if [ ! -f "$corpus/index.html" ]; then
    # Docker images often exclude /usr/share/doc from dpkg installs; the corpus lives there, so say why it is missing.
    if grep -qs 'path-exclude=/usr/share/doc' /etc/dpkg/dpkg.cfg.d/* 2>/dev/null; then
      echo "warning: dpkg excludes /usr/share/doc here (see /etc/dpkg/dpkg.cfg.d); $package's html may not land" >&2
    fi
    local sudo=""
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
}

# A package whose install would take something else away is unpacked, never installed: apt makes way for nodejs-doc
# (Debian's Node.js 18 docs) by removing a NodeSource nodejs, the Node.js 20 the npm-based tests run on. Its .deb is
# fetched with `apt-get download` and only the corpus folder is copied out, to a path no package owns.
unpack_corpus() {
  local package=$1 corpus=$2 inside=$3
  if [ ! -f "$corpus/index.html" ]; then
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null || { echo "error: unpacking $package into $corpus needs root or sudo" >&2; exit 1; }
      sudo="sudo"
    fi
    echo "unpacking $package (apt-get download, not installed)" >&2
    apt-cache show "$package" >/dev/null 2>&1 || $sudo apt-get update -qq >&2
    local tmp
    tmp="$(mktemp -d)"
    chmod 755 "$tmp"  # apt's download user must be able to write there
    (cd "$tmp" && apt-get download -qq "$package" >&2)
    dpkg-deb -x "$tmp"/*.deb "$tmp/root"
    $sudo mkdir -p "$corpus"
    $sudo cp -r "$tmp/root/$inside/." "$corpus/"
    rm -rf "$tmp"
  fi
  if [ ! -f "$corpus/index.html" ]; then
    echo "error: $package was unpacked but $corpus/index.html is missing" >&2
    exit 1
  fi
  echo "$corpus"
}

case "${1:-postgres}" in
  postgres) install_corpus postgresql-doc-15 /usr/share/doc/postgresql-doc-15/html ;;
  django) install_corpus python-django-doc /usr/share/doc/python-django-doc/html ;;
  pytest) install_corpus python-pytest-doc /usr/share/doc/python-pytest-doc/html ;;
  git) install_corpus git-doc /usr/share/doc/git-doc ;;
  sqlite) install_corpus sqlite3-doc /usr/share/doc/sqlite3 ;;
  celery) install_corpus python-celery-doc /usr/share/doc/python-celery-doc/html ;;
  # The package holds one folder per language; en/ alone is the corpus (a few of its pages are Portuguese upstream).
  apache) install_corpus apache2-doc /usr/share/doc/apache2-doc/manual/en ;;
  postfix) install_corpus postfix-doc /usr/share/doc/postfix/html ;;
  node) unpack_corpus nodejs-doc /opt/deep-research-eval/nodejs-doc/api usr/share/doc/nodejs/api ;;
  cmake) install_corpus cmake-doc /usr/share/doc/cmake-data/html ;;
  sqlalchemy) install_corpus python-sqlalchemy-doc /usr/share/doc/python-sqlalchemy-doc/html ;;
  exim4) install_corpus exim4-doc-html /usr/share/doc/exim4-doc-html/spec_html ;;
  werkzeug) install_corpus python-werkzeug-doc /usr/share/doc/python-werkzeug-doc/html ;;
  flask) install_corpus python-flask-doc /usr/share/doc/python-flask-doc/html ;;
  zsh) install_corpus zsh-doc /usr/share/doc/zsh-doc/html ;;
  all)
    install_corpus postgresql-doc-15 /usr/share/doc/postgresql-doc-15/html
    install_corpus python-django-doc /usr/share/doc/python-django-doc/html
    install_corpus python-pytest-doc /usr/share/doc/python-pytest-doc/html
    install_corpus git-doc /usr/share/doc/git-doc
    install_corpus sqlite3-doc /usr/share/doc/sqlite3
    install_corpus python-celery-doc /usr/share/doc/python-celery-doc/html
    install_corpus apache2-doc /usr/share/doc/apache2-doc/manual/en
    install_corpus postfix-doc /usr/share/doc/postfix/html
    unpack_corpus nodejs-doc /opt/deep-research-eval/nodejs-doc/api usr/share/doc/nodejs/api
    install_corpus cmake-doc /usr/share/doc/cmake-data/html
    install_corpus python-sqlalchemy-doc /usr/share/doc/python-sqlalchemy-doc/html
    install_corpus exim4-doc-html /usr/share/doc/exim4-doc-html/spec_html
    install_corpus python-werkzeug-doc /usr/share/doc/python-werkzeug-doc/html
    install_corpus python-flask-doc /usr/share/doc/python-flask-doc/html
    install_corpus zsh-doc /usr/share/doc/zsh-doc/html
    ;;
  *) echo "usage: $0 [postgres|django|pytest|git|sqlite|celery|apache|postfix|node|cmake|sqlalchemy|exim4|werkzeug|flask|zsh|all]" >&2; exit 2 ;;
esac
