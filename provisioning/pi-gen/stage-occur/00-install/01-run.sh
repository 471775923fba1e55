#!/bin/bash -e
# pi-gen, on the build host: copy the firmware from the checkout this stage lives in (the files git
# tracks, plus new files not ignored; never .venv, data or models/build) to /opt/occur, then install
# it inside the image: setup.sh builds the venv and the models now, so first boot needs no network.
# STAGE_LIST must name this folder inside the checkout, e.g. /src/occur/provisioning/pi-gen/stage-occur.
src=$(cd ../../../.. && pwd)
[ -x "$src/setup.sh" ] && [ -f "$src/provisioning/install-image.sh" ] || {
	echo "stage-occur: $src is not the firmware checkout (run pi-gen with STAGE_LIST naming this stage in place)" >&2
	exit 1
}
rm -rf "${ROOTFS_DIR}/opt/occur"
install -d "${ROOTFS_DIR}/opt/occur"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf -) \
		| tar -C "${ROOTFS_DIR}/opt/occur" -xf -
else
	tar -C "$src" --exclude=./.venv --exclude=./data --exclude=./build --exclude=./models/build \
		--exclude=./models/cache -cf - . | tar -C "${ROOTFS_DIR}/opt/occur" -xf -
fi
on_chroot << CHROOT
cd /opt/occur && QEMU_CPU=cortex-a72 ./provisioning/install-image.sh
CHROOT
