#!/bin/sh
# Installs the Debian packages listed in $1 that are missing. Needs root to
# install; without root it only reports what is missing, and the tests that
# need those packages skip with that reason.
set -eu
list=$1
missing=""
for pkg in $(grep -v '^#' "$list"); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "not root: cannot install$missing; tests that need them will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting system daemons (nginx on port 80, sshd on
# 22): the tests start their own on free ports. policy-rc.d(8) exit 101 means
# "action forbidden"; an existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
