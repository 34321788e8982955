#!/usr/bin/env bash
# Extract messages.pot from the templates and update every catalog from it.
# Usage: scripts/i18n.sh            extract + update (what `make i18n` runs)
#        scripts/i18n.sh init LANG  start a catalog for a new language
#        scripts/i18n.sh check      compile every catalog (syntax check; writes nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
DIR=bot/translations
POT="$DIR/messages.pot"
extract() {
  "$PYBABEL" -q extract -F babel.cfg -k N_ --no-location --omit-header --sort-output \
    --project stelloloxon-bot -o "$POT" . >/dev/null
}
case "${1:-update}" in
  update)
    extract
    "$PYBABEL" -q update -i "$POT" -d "$DIR" --no-fuzzy-matching --ignore-obsolete >/dev/null
    ;;
  init)
    extract
    "$PYBABEL" init -i "$POT" -d "$DIR" -l "$2"
    ;;
  check)
    for po in "$DIR"/*/LC_MESSAGES/messages.po; do
      "$PYBABEL" compile --statistics -i "$po" -o /dev/null
    done
    ;;
  *) echo "usage: $0 [update|init LANG|check]" >&2; exit 2 ;;
esac
