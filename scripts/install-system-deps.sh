#!/usr/bin/env bash
# Installs the system packages the headless tests need on a fresh Debian 12 (bookworm) machine:
#  - Debian's Chromium: Playwright drives it for the page smoke test (Playwright cannot download its own
#    browser here) and it brings SwiftShader, a CPU Vulkan that WebGPU in the browser runs on;
#  - Mesa 25's lavapipe from bookworm-backports: the CPU Vulkan driver Dawn (the `webgpu` npm package)
#    runs on in Node. Debian 12's own Mesa 22.3 lavapipe is too old (Dawn returns no adapter).
# Needs root. Safe to run twice.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "install-system-deps.sh: run as root (it calls apt-get)" >&2; exit 1; fi
mirror=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1)
[ -n "$mirror" ] || mirror=$(grep -h -m1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
if [ ! -f /etc/apt/sources.list.d/backports.sources ]; then
  cat > /etc/apt/sources.list.d/backports.sources <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
echo "system packages: $(dpkg-query -W -f='${Package} ${Version}\n' chromium mesa-vulkan-drivers | tr '\n' ';')"
