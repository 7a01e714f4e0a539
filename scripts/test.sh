#!/usr/bin/env bash
# Run the whole test suite: every API test on SQLite and on PostgreSQL, plus browser tests in headless Chromium.
# It installs what it needs: the Python test dependencies, and (as root) Debian's chromium and a running PostgreSQL.
# shellcheck source=scripts/_env.sh
source "$(dirname "$0")/_env.sh"
install_project "test"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
need_apt() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  need_apt chromium fonts-noto-cjk
fi
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && [ -z "${PDF_FONT:-}" ]; then
  echo "Installing fonts-noto-cjk for the printed-PDF tests..."
  need_apt fonts-noto-cjk
fi

PG_URL="${TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ls /etc/postgresql >/dev/null 2>&1; then
    echo "Starting PostgreSQL..."
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable at $PG_URL" >&2; exit 1; }

ruff check .
ruff format --check .
exec python -m pytest -n "${TEST_WORKERS:-2}" -p no:cacheprovider "$@"
