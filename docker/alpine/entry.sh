#!/bin/sh
# The image's entry point.  With arguments (`sh`, `wingmate check`, a one-off
# command) it runs them in its place; without, it becomes wingmate, so that
# wingmate is the container's init.
set -e

# wingmate, wmexec and wmpidproxy are single-file executables: each start
# unpacks a bundle into $TMPDIR (default /tmp) and loads libraries from it.
# Their own loader's errors name neither cause nor cure, so check first.
check_tmpdir() {
    dir=${TMPDIR:-/tmp}
    cure="mount a tmpfs there (--tmpfs $dir:rw,exec) or set TMPDIR to a writable directory on an exec mount"
    if ! probe=$(mktemp -d "$dir/.wingmate-probe.XXXXXX" 2>/dev/null); then
        echo "entry.sh: error: cannot create files in $dir, where the programs unpack at start; $cure" >&2
        exit 1
    fi
    printf '#!/bin/sh\n' >"$probe/run" && chmod +x "$probe/run"
    if ! "$probe/run" 2>/dev/null; then
        rm -rf "$probe"
        echo "entry.sh: error: $dir does not allow executing files (noexec), and the programs load their libraries from it; $cure" >&2
        exit 1
    fi
    rm -rf "$probe"
}

check_tmpdir
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec /usr/local/bin/wingmate
