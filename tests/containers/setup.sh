#!/bin/sh
# Prepares this machine for the container smoke tests: installs podman, runc
# and debootstrap when they are missing (as root), then makes the local base
# images unless they already exist.  Safe to run again; a second run takes a
# second or two.  Without root it only says what is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/../install-system-packages.sh" "$here/system-packages.txt"
if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: not root; the container smoke tests will skip" >&2
    exit 0
fi
sh "$here/base-images.sh" >/dev/null
