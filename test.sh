#!/usr/bin/env bash
# One command to run the whole test suite: installs Debian packages (dovecot-imapd, postgresql,
# chromium, chromium-driver),
# the virtual environment with dev tools, then lint and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-test-deps.sh
scripts/setup-venv.sh dev
.venv/bin/ruff check .
exec .venv/bin/pytest "$@"
