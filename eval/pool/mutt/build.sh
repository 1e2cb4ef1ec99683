#!/bin/bash
# Rebuild OUTDIR/mutt/docs/ from the Debian 12 package.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
NAME=mutt
PKG=mutt
VER=2.2.12-0.1~deb12u2
SHA=93875f1b6bb2e6b5173317a426cb262e20f33e2a1fd3e9f10b0b540bcd6a289b
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null)
DEB=$(ls "$TMP"/${PKG}_*.deb)
echo "$SHA  $DEB" | sha256sum -c --quiet
dpkg-deb -x "$DEB" "$TMP/x"
SRC="$TMP/x/usr/share/doc/mutt/html"
mkdir -p "$OUT/$NAME/docs"
rm -f "$OUT/$NAME/docs/"*
# chapter pages of the split HTML manual, byte for byte, names unchanged
# (manual.html, the one-page copy of the same text, is left out)
for f in gettingstarted configuration advancedusage mimesupport optionalfeatures tuning reference; do
  cp "$SRC/$f.html" "$OUT/$NAME/docs/$f.html"
done
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $OUT/$NAME: $(ls "$OUT/$NAME/docs" | wc -l) files, $(cat "$OUT/$NAME/docs/"* | wc -c) bytes"
