#!/bin/bash
# Rebuild OUTDIR/debian-reference-en/docs/ from the Debian 12 package.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
NAME=debian-reference-en
PKG=debian-reference-en
VER=2.100
SHA=9f31d3a17df505de09689ca255512ea58c1fc47c59bb1b0c7bf1c23362e9743f
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null)
DEB=$(ls "$TMP"/${PKG}_*.deb)
echo "$SHA  $DEB" | sha256sum -c --quiet
dpkg-deb -x "$DEB" "$TMP/x"
SRC="$TMP/x/usr/share/debian-reference"
mkdir -p "$OUT/$NAME/docs"
rm -f "$OUT/$NAME/docs/"*
# chapter pages, copied byte for byte (DocBook XSL XHTML, names unchanged)
for f in ch02 ch03 ch04 ch05 ch09 ch10; do
  cp "$SRC/$f.en.html" "$OUT/$NAME/docs/$f.en.html"
done
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $OUT/$NAME: $(ls "$OUT/$NAME/docs" | wc -l) files, $(cat "$OUT/$NAME/docs/"* | wc -c) bytes"
