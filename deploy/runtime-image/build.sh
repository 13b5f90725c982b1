#!/usr/bin/env bash
# Builds the function runtime image without a registry: a minimal root filesystem holding this
# machine's node binary, the shared libraries it links (found with ldd), the dynamic loader, a
# non-root user and the compiled runtime server, imported with `docker import`.
#
# Usage: bash deploy/runtime-image/build.sh [--tag NAME] [--node PATH]
#   --tag NAME   image to create (default faasflow-runtime:latest; env FAASFLOW_RUNTIME_IMAGE)
#   --node PATH  node binary to ship (default: the `node` on PATH; env NODE_BIN)
#
# The image runs `node /opt/faasflow/worker/sandbox/runtime/server.js` as uid 10001; the worker
# appends `--socket /run/faasflow/runtime.sock ...`. Users with a registry can build the same
# image from ./Dockerfile instead. Idempotent: re-running replaces the tag.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tag="${FAASFLOW_RUNTIME_IMAGE:-faasflow-runtime:latest}"
node_bin="${NODE_BIN:-$(command -v node || true)}"
uid=10001

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --node) node_bin="${2:?--node needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (expected --tag NAME or --node PATH)" >&2; exit 2 ;;
  esac
done

fail() { echo "build.sh: $*" >&2; exit 1; }

[ -n "$node_bin" ] && [ -x "$node_bin" ] || fail "no node binary found (set --node PATH or NODE_BIN)"
node_bin="$(readlink -f "$node_bin")"
command -v ldd >/dev/null || fail "ldd is required to find node's shared libraries"
command -v docker >/dev/null || fail "the docker CLI is required (apt-get install -y docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  fail "the Docker engine is unreachable (start it: dockerd --bridge=none --iptables=false --ip-masq=false &)"

work="$(mktemp -d "${TMPDIR:-/tmp}/faasflow-rootfs-XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{usr/local/bin,etc,tmp,fn,run/faasflow,opt/faasflow,proc,sys,dev}
chmod 1777 "$root/tmp"

echo "== compiling the runtime server"
(cd "$repo" && npx --no-install tsc -p deploy/runtime-image/tsconfig.json --outDir "$root/opt/faasflow")
# The compiled files are ES modules: node needs a package.json saying so above them.
printf '{ "name": "faasflow-runtime", "private": true, "type": "module" }\n' >"$root/opt/faasflow/package.json"
[ -f "$root/opt/faasflow/worker/sandbox/runtime/server.js" ] || fail "compiling did not produce server.js"

echo "== copying node ($node_bin, $("$node_bin" --version)) and its libraries"
cp "$node_bin" "$root/usr/local/bin/node"
# ldd lines: "libx.so => /lib/.../libx.so (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", vdso.
ldd "$node_bin" | awk '/=> \// { print $3 } /^[[:space:]]+\// { print $1 }' | sort -u |
  while read -r lib; do
    [ -e "$lib" ] || fail "library $lib listed by ldd does not exist"
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done

cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
faasflow:x:$uid:$uid:faasflow function:/tmp:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
faasflow:x:$uid:
nogroup:x:65534:
EOF

echo "== importing $tag"
version="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
tar --numeric-owner --owner=0 --group=0 -C "$root" -c . |
  docker import \
    --change "USER $uid:$uid" \
    --change 'WORKDIR /tmp' \
    --change 'ENV HOME=/tmp' \
    --change 'ENTRYPOINT ["/usr/local/bin/node", "/opt/faasflow/worker/sandbox/runtime/server.js"]' \
    --change "LABEL org.faasflow.runtime=1 org.faasflow.source=$version" \
    --message "faasflow runtime ($version)" \
    - "$tag" >/dev/null

echo "== checking that node and the runtime load inside the image"
docker run --rm --network none --read-only --entrypoint /usr/local/bin/node "$tag" \
  -e 'await import("/opt/faasflow/worker/sandbox/runtime/protocol.js"); await import("/opt/faasflow/shared/codec.js"); console.log(`node ${process.version} as uid ${process.getuid()}`)' \
  --input-type=module ||
  fail "the image was imported but node or the runtime does not load in it"

size="$(docker image inspect --format '{{.Size}}' "$tag")"
echo "built $tag ($((size / 1024 / 1024)) MB)"
