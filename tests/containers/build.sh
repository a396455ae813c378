#!/bin/sh
# Builds what docs/containers.md describes; the Makefile's targets call this.
#   build.sh binaries   dist/wingmate, dist/wmpidproxy, dist/wmexec, frozen with
#                       Debian's /usr/bin/python3 in .venv-build
#   build.sh measure    size and start time of the files in dist/
#   build.sh images     the bookworm image and the docker/bookworm example, on
#                       the local base images (no registry needed), tagged
#                       $IMAGE:bookworm and $IMAGE-example:bookworm
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
VENV=$repo/.venv-build
IMAGE=${IMAGE:-wingmate}

binaries() {
    stamp=$VENV/.installed
    if [ ! -f "$stamp" ] || [ "$repo/requirements-build.txt" -nt "$stamp" ] ||
        [ "$repo/requirements.txt" -nt "$stamp" ]; then
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            -r "$repo/requirements-build.txt"
        touch "$stamp"
    fi
    cd "$repo"
    "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
        --distpath dist --workpath build build.spec
    for program in wingmate wmpidproxy wmexec; do
        "dist/$program" --version
    done
}

measure() {
    cd "$repo"
    "$PYTHON" - <<'EOF'
import os, statistics, subprocess, time

def median_ms(command, runs=21):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000

for name in ("wingmate", "wmpidproxy", "wmexec"):
    print(f"{name:10} {os.path.getsize('dist/' + name) / 2**20:5.1f} MiB")
for command in (
    ["/bin/true"],
    ["dist/wmexec", "--", "/bin/true"],
    ["dist/wmpidproxy", "--version"],
    ["dist/wingmate", "--version"],
    ["dist/wingmate", "check", "--config", "demo"],
):
    print(f"{median_ms(command):7.1f} ms  {' '.join(command)}")
EOF
}

images() {
    export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
    sh "$here/setup.sh"
    base=localhost/wingmate-test-base-bookworm
    podman build --file "$repo/Dockerfile.build" --target bookworm \
        --build-arg BOOKWORM_BUILDER_IMAGE=$base --build-arg BOOKWORM_IMAGE=$base \
        --tag "$IMAGE:bookworm" "$repo"
    podman build --build-arg WINGMATE_IMAGE="$IMAGE:bookworm" \
        --tag "$IMAGE-example:bookworm" "$repo/docker/bookworm"
}

case "${1:-}" in
binaries | measure | images) "$1" ;;
*)
    echo "usage: $0 binaries|measure|images" >&2
    exit 2
    ;;
esac
