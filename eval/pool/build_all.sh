#!/bin/bash
# Rebuild every corpus of the documentation pool from its Debian 12 package into OUTDIR
# (realdocs layout: OUTDIR/NAME/docs/ + OUTDIR/NAME/questions.jsonl). Needs apt-get (after
# `apt-get update`), dpkg-deb and man; nothing is installed. The documents never go in the
# repository: only the questions, the build scripts and SOURCE.md (package, version, sha256,
# licence, files) are kept here.
# Usage: bash eval/pool/build_all.sh OUTDIR   then   python -m bot eval realdocs OUTDIR
set -euo pipefail
OUT=${1:?usage: bash build_all.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
for script in "$HERE"/*/build.sh; do
  bash "$script" "$OUT"
done
