#!/usr/bin/env bash
# One command to install and start the bot on its embedded default (SQLite, SMTP on
# 127.0.0.1:2525, replies as .eml files in var/outbox). Extra arguments go to `run`.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-venv.sh
exec .venv/bin/stelloloxon-bot run "$@"
