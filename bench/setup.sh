#!/bin/sh
# Installs what bench/run.py measures and measures with, when missing:
# the peers (supervisord, s6, runit, tini, dumb-init, busybox crond, Debian
# cron) from Debian's packages, gcc for the timestamp helper, and the build
# venv (.venv-build, requirements-build.txt) that freezes wingmate.
# Needs root to install; run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

packages="util-linux procps gcc libc6-dev strace
supervisor s6 runit tini dumb-init busybox cron"
missing=""
for pkg in $packages; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench/setup.sh: not root, cannot install:$missing" >&2
        exit 1
    fi
    # Debian's maintainer scripts would start supervisord, runsvdir and cron
    # as host services; with policy-rc.d answering 101 they stay stopped, so
    # the only instances running are the ones the harness starts.
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ -n "$made_policy" ] && rm -f "$policy"
fi

if [ ! -x "$repo/.venv-build/bin/pyinstaller" ]; then
    /usr/bin/python3 -m venv "$repo/.venv-build"
    "$repo/.venv-build/bin/pip" install --quiet --disable-pip-version-check \
        -r "$repo/requirements-build.txt"
fi
if [ ! -x "$repo/.venv/bin/python" ]; then
    /usr/bin/python3 -m venv "$repo/.venv"
    "$repo/.venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$repo/requirements.txt"
fi
