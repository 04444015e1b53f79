#!/usr/bin/env bash
# Builds the xuncha image from a locally built binary: the binary, the shared libraries `ldd`
# lists (glibc, libgcc_s, the loader), an empty /tmp and /data, on `FROM scratch`; it runs as
# user 10001.
#   deploy/build-image.sh [BINARY] [TAG]     (defaults: target/release/xuncha, xuncha:latest)
# With a registry: build the same way, then `docker tag` and `docker push` it there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../target/release/xuncha}"
tag="${2:-xuncha:latest}"
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release -p xuncha" >&2; exit 1; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/tmp" "$ctx/data"
chmod 1777 "$ctx/rootfs/tmp"
cp "$bin" "$ctx/rootfs/usr/bin/xuncha"
# Every shared library the binary loads, at the same path (the loader's path is absolute).
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
cp "$here/Dockerfile" "$ctx/Dockerfile"
docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
