#!/usr/bin/env bash
# Container tier set-up for CI (called from .ci/run) and for a developer machine: installs the
# engine and the image builder's tools, starts dockerd if none answers, and builds the images
# the e2e tests use. Idempotent: installed packages, a running engine and up-to-date images
# (same input-hash label) are left alone.
#
# Network rule of this project: dockerd runs with --bridge=none --iptables=false; containers use
# --network none or --network host only. Packages come from Debian's apt mirror, the codex agent
# from the npm registry; nothing is pulled from a container registry.
#
# Environment:
#   AIFO_CI_IMAGES       what to build: any of "toolchains agent agent-full codex"
#                        (default: all of them)
#   AIFO_CI_KINDS        toolchain kinds (default "rust node python c-cpp go")
#   AIFO_TEST_IMAGE_TAG  image tag (default "local"), the tag the e2e tests look for
#   AIFO_IMAGE_JOBS      mmdebstrap runs at once (default 3)
#   AIFO_IMAGES_FORCE=1  rebuild even when the input hash matches
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
step() { printf '\n=== ci-docker: %s (+%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

need=()
# docker.io brings containerd, runc and tini (the sidecars' init).
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
# mmdebstrap with the recommends it uses in root mode (gpg, libdpkg-perl, arch-test);
# dpkg-dev for its eatmydata hook (dpkg-architecture). mmtarfilter runs with python3.
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap gpg libdpkg-perl arch-test)
command -v dpkg-architecture >/dev/null 2>&1 || need+=(dpkg-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# ps: the e2e tests look at process groups; busybox: the sidecar scripts are tested under it.
command -v ps >/dev/null 2>&1 || need+=(procps)
command -v busybox >/dev/null 2>&1 || need+=(busybox)
if [ ${#need[@]} -gt 0 ]; then
  step "apt-get install ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  step "starting dockerd"
  # No bridge and no iptables: containers get --network none or --network host, nothing else.
  nohup dockerd --bridge=none --iptables=false >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up; see /tmp/dockerd.log" >&2; tail -20 /tmp/dockerd.log >&2; exit 1; }
fi

step "npm run build (the image builder and the shim bundle)"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build >/dev/null

step "building images"
AIFO_CI_IMAGES=${AIFO_CI_IMAGES:-toolchains agent agent-full codex} \
AIFO_CI_KINDS=${AIFO_CI_KINDS:-rust node python c-cpp go} \
node --input-type=module -e '
  import { buildImages } from "./build/src/images/build.js";
  const want = new Set(process.env.AIFO_CI_IMAGES.split(/\s+/).filter(Boolean));
  const kinds = want.has("toolchains") ? process.env.AIFO_CI_KINDS.split(/\s+/).filter(Boolean) : [];
  const tag = process.env.AIFO_TEST_IMAGE_TAG || "local";
  const t0 = Date.now();
  const log = (l) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s ${l}\n`);
  const common = { tagSuffix: tag, log, force: process.env.AIFO_IMAGES_FORCE === "1", concurrency: Number(process.env.AIFO_IMAGE_JOBS || 3) };
  const runs = [buildImages({ ...common, kinds, agent: want.has("agent") || want.has("codex"), agents: want.has("codex") ? ["codex"] : [], flavor: "slim" })];
  if (want.has("agent-full")) runs.push(buildImages({ ...common, agent: true, flavor: "full" }));
  const built = (await Promise.all(runs)).flat();
  for (const b of built) console.log(`${b.ref.padEnd(36)} ${b.skipped ? "up to date" : `built in ${b.seconds.toFixed(0)} s`}`);
  console.log(`images ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
'
step "done"
