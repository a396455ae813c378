#!/bin/sh
# Installs what bench/run.py measures and measures with, when missing:
# the peers (supervisord, s6, runit, tini, dumb-init, Debian cron) from
# Debian's packages, busybox crond from busybox-static (unpacked, not
# installed), gcc for the probe, and the build venv (.venv-build,
# requirements-build.txt) that freezes wingmate.
# Needs root to install; run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

packages="util-linux procps gcc libc6-dev strace
supervisor s6 runit tini dumb-init cron"
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

# Debian's dynamic busybox has no crond applet, and busybox-static would
# replace it: unpack the static one into .cache/bench instead.
busybox="$repo/.cache/bench/busybox"
if [ ! -x "$busybox" ]; then
    scratch=$(mktemp -d)
    (cd "$scratch" && apt-get download -q busybox-static >/dev/null 2>&1 \
        && dpkg-deb -x busybox-static_*.deb unpacked)
    mkdir -p "$(dirname "$busybox")"
    cp "$scratch/unpacked/bin/busybox" "$busybox"
    rm -rf "$scratch"
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
