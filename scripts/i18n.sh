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
    --project stelloloxon-bot -o "$1" . >/dev/null
}
case "${1:-update}" in
  update)
    # The .pot has no header, so it only changes when a message does; unchanged -> nothing to do
    # (keeps `make i18n` from touching every .po's POT-Creation-Date). FORCE=1 updates anyway.
    fresh="$(mktemp)"
    extract "$fresh"
    if [ -f "$POT" ] && cmp -s "$fresh" "$POT" && [ -z "${FORCE:-}" ]; then
      rm -f "$fresh"; echo "catalogs up to date"; exit 0
    fi
    mv "$fresh" "$POT" && chmod 644 "$POT"
    "$PYBABEL" -q update -i "$POT" -d "$DIR" --no-fuzzy-matching --ignore-obsolete >/dev/null
    ;;
  init)
    extract "$POT"
    "$PYBABEL" init -i "$POT" -d "$DIR" -l "$2"
    ;;
  check)
    for po in "$DIR"/*/LC_MESSAGES/messages.po; do
      "$PYBABEL" compile --statistics -i "$po" -o /dev/null
    done
    ;;
  *) echo "usage: $0 [update|init LANG|check]" >&2; exit 2 ;;
esac
