#!/usr/bin/env bash
# Re-extract the messages and merge them into the Chinese (zh_Hans_CN) and English catalogs (then translate the new entries).
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel extract -F babel.cfg -k lazy_gettext -k _l --ignore-dirs=".* _* node_modules static tests bench" \
  -o merit_bank/translations/messages.pot --no-location --sort-output . >/dev/null
for locale in zh_Hans_CN en; do
  if [ -f "merit_bank/translations/$locale/LC_MESSAGES/messages.po" ]; then
    pybabel update -N --no-fuzzy-matching -i merit_bank/translations/messages.pot -d merit_bank/translations -l "$locale" >/dev/null
  else
    pybabel init -i merit_bank/translations/messages.pot -d merit_bank/translations -l "$locale" >/dev/null
  fi
done
