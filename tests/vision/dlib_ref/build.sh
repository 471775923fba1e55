#!/usr/bin/env bash
# Build the dlib_ref parity binary. Usage: build.sh OUTPUT_PATH
# Needs: apt-get install libdlib-dev g++
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTPUT_PATH" >&2
    exit 1
fi
if ! command -v g++ >/dev/null 2>&1; then
    echo "error: g++ not found (apt-get install g++)" >&2
    exit 1
fi
if [ ! -d /usr/include/dlib ]; then
    echo "error: /usr/include/dlib missing (apt-get install libdlib-dev)" >&2
    exit 1
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The chip mode's similarity fit calls BLAS/LAPACK from dlib's headers; Debian ships only the
# versioned libraries without their -dev packages, so name them by file.
g++ -O2 -std=c++14 "$here/dlib_ref.cpp" -o "$1" \
    -ldlib -lpthread -l:libblas.so.3 -l:liblapack.so.3
