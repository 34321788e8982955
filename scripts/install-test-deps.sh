#!/bin/sh
# Install the Debian packages the end-to-end tests need (Dovecot IMAP, PostgreSQL, swaks,
# SpamAssassin with its spamd daemon, packaged separately since Debian 12; chromium +
# chromium-driver for the dashboard browser test; p7zip-full to open the AES export as a
# client would),
# idempotently and non-interactively, without leaving the system-wide services running:
# the tests start their own private instances on free loopback ports (tests/servers/).
#
#   sudo scripts/install-test-deps.sh
#
# Exit status: 0 when everything is installed (already or now), 1 on failure, 2 when not
# root, sudo is unavailable and packages are missing.
set -eu

PACKAGES="dovecot-imapd postgresql swaks spamassassin spamd chromium chromium-driver p7zip-full"
SERVICES="dovecot postgresql spamd spamassassin"

missing_packages() {
    missing=""
    for pkg in $PACKAGES; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        case "$status" in
            *" installed") ;;
            *) missing="$missing $pkg" ;;
        esac
    done
    echo "${missing# }"
}

have() { command -v "$1" >/dev/null 2>&1; }

# After a fresh install: stop the distribution's own daemons and keep them from starting at
# boot, so they do not hold ports 143/993/5432/783 (harmless if they are not running).
quiesce_services() {
    for svc in $SERVICES; do
        if [ -d /run/systemd/system ] && have systemctl; then
            systemctl stop "$svc" >/dev/null 2>&1 || true
            systemctl disable "$svc" >/dev/null 2>&1 || true
        else
            if [ -x "/etc/init.d/$svc" ]; then
                "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
            fi
            if have update-rc.d; then
                update-rc.d "$svc" disable >/dev/null 2>&1 || true
            fi
        fi
    done
    # Debian's default cluster(s): stop and mark manual so nothing auto-starts them.
    if have pg_lsclusters; then
        pg_lsclusters -h 2>/dev/null | while read -r ver name _rest; do
            pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
            conf="/etc/postgresql/$ver/$name/start.conf"
            if [ -f "$conf" ] && ! grep -qx manual "$conf"; then
                echo manual >"$conf"
            fi
        done
    fi
}

MISSING=$(missing_packages)

if [ "$(id -u)" -ne 0 ]; then
    if [ -z "$MISSING" ]; then
        echo "install-test-deps: ok, already installed: $PACKAGES"
        exit 0
    fi
    if have sudo; then
        exec sudo -- "$0" "$@"
    fi
    echo "install-test-deps: missing packages:$MISSING" >&2
    echo "install-test-deps: run as root: apt-get install -y $MISSING" >&2
    exit 2
fi

if [ -z "$MISSING" ]; then
    # Nothing to do; the services are left exactly as they are.
    echo "install-test-deps: ok, already installed: $PACKAGES"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive

# Keep apt from starting the services at all while installing (policy-rc.d is honoured by
# invoke-rc.d and deb-systemd-invoke).  Only installed if the system has none already.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=""
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    OWN_POLICY=1
fi
cleanup() {
    if [ -n "$OWN_POLICY" ]; then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# apt-get update only if some package has no installation candidate (empty/stale lists).
needs_update=""
for pkg in $MISSING; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        needs_update=1
    fi
done
if [ -n "$needs_update" ]; then
    apt-get update -qq >/dev/null
fi

log=$(mktemp)
if ! apt-get install -y -q $PACKAGES >"$log" 2>&1; then
    # The package lists may be outdated (404 on a superseded version): refresh once, retry.
    if apt-get update -qq >/dev/null 2>&1 &&
        apt-get install -y -q $PACKAGES >"$log" 2>&1; then
        :
    else
        tail -n 20 "$log" >&2
        rm -f "$log"
        echo "install-test-deps: FAILED to install:$MISSING" >&2
        exit 1
    fi
fi
rm -f "$log"

quiesce_services

STILL=$(missing_packages)
if [ -n "$STILL" ]; then
    echo "install-test-deps: FAILED, still missing: $STILL" >&2
    exit 1
fi
echo "install-test-deps: ok, installed:$MISSING (system services stopped and disabled)"
