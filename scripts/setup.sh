#!/usr/bin/env bash
# setup.sh — install what feature_store needs on Debian 12, then build and
# install the extension.  Run as root.  Re-running is cheap: the apt step is
# skipped when every package is already installed.
#
# Environment:
#   FS_FORCE_APT=1   run apt-get update/install even if everything is installed
#   PG_CONFIG        pg_config to build against (default: PostgreSQL 15's)
#
# It also runs `npm ci` in the repository (test servers and clients, see
# package.json) when node_modules is missing or older than package-lock.json.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
    build-essential
    postgresql-15
    postgresql-server-dev-15
    postgresql-client-15
    libpq-dev
    libcurl4-openssl-dev
    libjansson-dev
    libsimdjson-dev
    postgresql-15-pgtap
    libtap-parser-sourcehandler-pgtap-perl
    ca-certificates
)

# Node.js + npm (for the dynalite test server).  Install Debian's only when npm
# is absent: a NodeSource nodejs already ships npm and conflicts with Debian's.
if ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ] || [ "${FS_FORCE_APT:-0}" = 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: must run as root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing packages: ${missing[*]:-(forced) ${PACKAGES[*]}}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
else
    echo "setup: all packages present"
fi

# npm packages for the tests (dynalite, the AWS SDK), exactly as locked in
# package-lock.json.  Skipped when node_modules is newer than the lockfile.
if [ -f "$REPO/package-lock.json" ]; then
    if [ ! -f "$REPO/node_modules/.package-lock.json" ] ||
       [ "$REPO/package-lock.json" -nt "$REPO/node_modules/.package-lock.json" ]; then
        echo "setup: installing npm packages (npm ci)"
        ( cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error )
    else
        echo "setup: npm packages present"
    fi
fi

# Build against PostgreSQL 15 even if another major's pg_config is first on PATH.
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"

# Build with warnings as errors, as CI does, then install into PostgreSQL.
echo "setup: building feature_store"
make -C "$REPO" -s WERROR=1 PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" -eq 0 ]; then
    make -C "$REPO" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else
    sudo make -C "$REPO" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
fi
echo "setup: installed feature_store into $("$PG_CONFIG" --pkglibdir)"
