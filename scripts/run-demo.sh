#!/usr/bin/env bash
# Run Merit Bank on the embedded SQLite database with the demo village, at http://127.0.0.1:5000
# shellcheck source=scripts/_env.sh
source "$(dirname "$0")/_env.sh"
install_project ""
flask --app merit_bank db upgrade
# Printed PDFs embed a Chinese font; without one they are refused (503 pdf-font-missing), the rest works.
if ! python -c 'from merit_bank.pdf import find_font; find_font()' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing a Chinese font for printed PDFs (fonts-noto-cjk)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null || true
  fi
  if ! python -c 'from merit_bank.pdf import find_font; find_font()' 2>/dev/null; then
    echo "Note: no Chinese font for printed PDFs; install one (Debian: apt-get install fonts-noto-cjk) or set PDF_FONT." >&2
  fi
fi
if flask --app merit_bank seed-demo; then :; else echo "(demo data was already there)"; fi
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
echo
echo "Merit Bank is running at http://${HOST}:${PORT}/  (API docs: http://${HOST}:${PORT}/api/docs)"
echo
exec flask --app merit_bank run --host "$HOST" --port "$PORT"
