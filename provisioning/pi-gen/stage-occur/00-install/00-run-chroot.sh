#!/bin/bash -e
# pi-gen stage: install the firmware and enable first boot (runs inside the image chroot).
apt-get install -y --no-install-recommends git python3-venv python3-picamera2
git clone --depth 1 "${OCCUR_REPO:-https://example.org/occur.git}" /opt/occur
cd /opt/occur && ./setup.sh
sed "s#@REPO@#/opt/occur#g" provisioning/occur-firstboot.service > /etc/systemd/system/occur-firstboot.service
systemctl enable occur-firstboot.service
