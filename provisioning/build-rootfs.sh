#!/bin/bash
# Build the door's root filesystem from Debian 12 arm64 packages, without pi-gen: debootstrap
# under qemu-user-static, the firmware copied from this checkout and installed by
# provisioning/install-image.sh (the same script the pi-gen stage runs), first boot run from a
# settings file as occur-firstboot.service would, then 'occur demo' inside, as the service user.
#
# usage (as root): provisioning/build-rootfs.sh [--out DIR] [--settings FILE] [--faces DIR]
#                                                [--mirror URL] [--clean]
#   --out DIR        work folder (default ./build/rootfs-arm64): rootfs/, build.log, demo.log,
#                    summary.txt and, with --faces, embeddings-arm64-<model>.npz
#   --settings FILE  first-boot settings (default provisioning/sample-settings.toml)
#   --faces DIR      labelled photos (folder per person), mounted read-only: the demo's recognition
#                    part, and every photo's SFace and dlib embedding written out for comparison
#   --clean          remove rootfs/ at the end (the logs and embeddings stay)
#   --reuse-base     start from DIR/base.tar (the debootstrapped system a previous run saved)
#                    instead of running debootstrap again
#
# Needs: root, debootstrap, qemu-user-static with an aarch64 binfmt handler (registered here
# from /usr/lib/binfmt.d/qemu-aarch64.conf when missing), network access to the Debian mirror
# and PyPI. Takes 30-60 minutes on a 2-core x86 machine; timings under emulation mean nothing.
# Under qemu-user, /proc/cpuinfo shows the host's CPU and LiteRT's CPU detection crashes in
# allocate_tensors, so a Raspberry Pi 4 cpuinfo is bind-mounted over it and QEMU_CPU=cortex-a72.
# The result is a root filesystem (no kernel, no boot firmware): pi-gen makes the flashable image.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/build/rootfs-arm64
settings=$src/provisioning/sample-settings.toml
faces=""
mirror=""
clean=0
reuse=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --settings) settings=$2; shift 2 ;;
    --faces) faces=$(cd "$2" && pwd); shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --clean) clean=1; shift ;;
    --reuse-base) reuse=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "build-rootfs: unknown option $1" >&2; exit 2 ;;
  esac
done

cannot() { echo "build-rootfs: cannot run: $*" >&2; exit 3; }
[ "$(id -u)" -eq 0 ] || cannot "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null || cannot "debootstrap is not installed (apt install debootstrap)"
[ -x /usr/bin/qemu-aarch64-static ] || [ "$(uname -m)" = aarch64 ] || \
  cannot "qemu-user-static is not installed (apt install qemu-user-static)"
[ -f "$settings" ] || cannot "no settings file $settings"
if [ "$(uname -m)" != aarch64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || cannot "no aarch64 binfmt handler and no qemu-aarch64.conf to register"
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$out/rootfs
log=$out/build.log
summary=$out/summary.txt
: > "$log"
: > "$summary"
started=$(date +%s)
step_start=$started
note() { echo "build-rootfs: $*" | tee -a "$summary"; }
step() {
  local now; now=$(date +%s)
  note "[$((now - started)) s] $*"
  step_start=$now
}
fail() { note "FAILED: $* (see $log)"; tail -20 "$log" >&2; exit 1; }

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  mounted=()
}
trap cleanup EXIT
mount_in() {  # mount_in TARGET ARGS...: mount and remember for the clean-up
  local target=$1; shift
  [ -e "$target" ] || mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

if [ -e "$root" ]; then
  grep -q " $root/" /proc/mounts && cannot "something is still mounted under $root"
  rm -rf --one-file-system "$root"
fi

if [ "$reuse" -eq 1 ] && [ -f "$out/base.tar" ]; then
  step "the base system from $out/base.tar (debootstrap of an earlier run)"
  mkdir -p "$root" && tar -C "$root" -xf "$out/base.tar" || fail "unpacking base.tar"
else
  step "debootstrap bookworm arm64 from $mirror"
  packages=ca-certificates,systemd,systemd-sysv,systemd-timesyncd,netbase,iproute2,sudo,tzdata
  packages+=,python3,python3-venv,python3-pip,python3-dev,git
  debootstrap --arch=arm64 --variant=minbase --include="$packages" bookworm "$root" "$mirror" >>"$log" 2>&1 \
    || fail "debootstrap"
  tar -C "$root" -cf "$out/base.tar" . || fail "saving base.tar"
fi

step "mounts, a Raspberry Pi 4 /proc/cpuinfo, network configuration for the build"
cat > "$out/cpuinfo" <<'CPU'
processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

processor	: 1
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

Hardware	: BCM2835
Model		: Raspberry Pi 4 Model B Rev 1.1
CPU
mount_in "$root/proc" -t proc proc
mount_in "$root/proc/cpuinfo" --bind "$out/cpuinfo"
mount_in "$root/dev" --bind /dev
mount_in "$root/dev/pts" --bind /dev/pts
mount_in "$root/sys" --bind /sys
mount_in "$root/tmp" -t tmpfs -o size=2g,mode=1777 tmpfs
if [ -n "$faces" ]; then
  mount_in "$root/opt/faces" --bind "$faces"
  mount -o remount,bind,ro "$root/opt/faces"
fi
# the build host's name resolution, CA bundle (TLS-intercepting proxies) and pip settings, for
# the build only: restored/removed before the end
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$root/etc/ssl/certs/ca-certificates.crt" "$out/ca-certificates.crt.image"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"

in_root() {  # in_root 'COMMAND': run in the target root with a clean environment
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 QEMU_CPU=cortex-a72 PIP_DEFAULT_TIMEOUT=180 /bin/bash -c "$1"
}

step "copy the firmware from the build checkout $src to /opt/occur"
mkdir -p "$root/opt/occur"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf -) \
    | tar -C "$root/opt/occur" -xf -
  note "firmware $(git -C "$src" describe --always --dirty 2>/dev/null)"
else
  tar -C "$src" --exclude=./.venv --exclude=./data --exclude=./build --exclude=./models/build \
    --exclude=./models/cache -cf - . | tar -C "$root/opt/occur" -xf -
fi

step "install: platform packages, setup.sh (venv, dependencies, models), user occur, first-boot unit"
in_root "cd /opt/occur && ./provisioning/install-image.sh" >>"$log" 2>&1 || fail "install-image.sh"
in_root "/opt/occur/.venv/bin/python -c 'import platform; print(platform.machine())'" | tee -a "$summary"

step "first boot: occur provision from $(basename "$settings") on /boot/firmware"
install -d "$root/boot/firmware"
install -m 0600 "$settings" "$root/boot/firmware/occur-settings.toml"
in_root "/opt/occur/.venv/bin/occur provision /boot/firmware/occur-settings.toml --root / --user occur" \
  2>&1 | tee -a "$log" "$summary" || fail "occur provision"
if grep -rqsE 'password *=|push_auth *=|command_key *=' "$root/boot/firmware"; then
  fail "a secret is still on the boot partition"
fi
note "boot partition after first boot: $(ls "$root/boot/firmware" | tr '\n' ' ')"
in_root "runuser -u occur -- /opt/occur/.venv/bin/occur check-config /etc/occur/occur.toml" 2>&1 | tee -a "$summary"

step "occur demo, as the service user"
demo_args="--into /tmp/occur-demo"
[ -n "$faces" ] && demo_args+=" --faces /opt/faces"
demo_rc=0
in_root "cd /tmp && runuser -u occur -- /opt/occur/.venv/bin/occur demo $demo_args" >"$out/demo.log" 2>&1 \
  || demo_rc=$?
note "occur demo: exit $demo_rc"
grep -E '^ *(ok|FAILED|failed)' "$out/demo.log" | tee -a "$summary" || true

if [ -n "$faces" ]; then
  step "embeddings of every photo in $faces (SFace, dlib) for the cross-architecture comparison"
  for model in sface dlib; do
    in_root "cd /opt/faces && find . -type f \\( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \\) | sort \
      | xargs /opt/occur/.venv/bin/occur --data-dir /tmp/embed embed --model $model --out /tmp/embeddings-$model.npz" \
      >>"$log" 2>&1 || fail "embeddings ($model)"
    cp "$root/tmp/embeddings-$model.npz" "$out/embeddings-arm64-$model.npz"
  done
  note "wrote $out/embeddings-arm64-sface.npz and embeddings-arm64-dlib.npz"
fi

step "the door's readiness check (no camera or pins here: not ready is expected)"
in_root "runuser -u occur -- /opt/occur/.venv/bin/occur --config /etc/occur/occur.toml doctor" \
  >"$out/doctor.log" 2>&1 || true
cat "$out/doctor.log" >>"$summary"

cp "$out/ca-certificates.crt.image" "$root/etc/ssl/certs/ca-certificates.crt"
rm -f "$root/etc/pip.conf" "$out/ca-certificates.crt.image"
cleanup
if [ "$clean" -eq 1 ]; then
  rm -rf --one-file-system "$root"
fi
step "done: demo exit $demo_rc"
exit "$demo_rc"
