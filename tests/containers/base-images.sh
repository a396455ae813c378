#!/bin/sh
# Makes the two local base images that the container smoke tests build on,
# unless an image of that name is already there (they are kept between runs):
#   wingmate-test-base-bookworm  Debian bookworm from debootstrap (minbase),
#                                with the host's locally added CA certificates
#   wingmate-test-base-busybox   busybox-static and nothing else: no C library
# No registry is needed.  Needs root, podman, debootstrap and apt-get.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
BOOKWORM=wingmate-test-base-bookworm
BUSYBOX=wingmate-test-base-busybox

work=$(mktemp -d "${TMPDIR:-/tmp}/wingmate-test-base.XXXXXX")
trap 'rm -rf "$work"' EXIT

has_image() {
    podman image exists "$1"
}

# The mirror the host's apt uses: the first http(s) URI in its sources.
host_mirror() {
    grep -hoE '^(URIs:|deb) +https?://[^ ]+' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
        awk '{print $2}' | grep -v security | head -n 1
}

make_bookworm() {
    mirror=$(host_mirror)
    root=$work/bookworm
    echo "base-images: debootstrap bookworm from ${mirror:-deb.debian.org}" >&2
    debootstrap --variant=minbase --include=ca-certificates \
        bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >"$work/log" 2>&1 ||
        { cat "$work/log" >&2; exit 1; }

    # Where HTTPS leaves through a re-signing proxy, pip and apt inside the
    # image trust only what the host trusts; elsewhere this copies nothing.
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | podman import --quiet - "$BOOKWORM" >/dev/null
}

make_busybox() {
    root=$work/busybox
    echo "base-images: busybox-static only" >&2
    # busybox-static conflicts with the host's busybox: unpack, don't install.
    (cd "$work" && apt-get download busybox-static >/dev/null 2>&1) || {
        apt-get update -qq && (cd "$work" && apt-get download busybox-static >/dev/null)
    }
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/deb"

    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" \
        "$root/sys" "$root/dev" "$root/run"
    chmod 1777 "$root/tmp"
    cp "$work/deb/bin/busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -c . | podman import --quiet - "$BUSYBOX" >/dev/null
}

has_image "$BOOKWORM" || make_bookworm
has_image "$BUSYBOX" || make_busybox
echo "$BOOKWORM $BUSYBOX"
