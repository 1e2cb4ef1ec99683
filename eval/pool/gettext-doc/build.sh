#!/bin/bash
# Rebuild OUTDIR/gettext-doc/docs/ from the Debian 12 package gettext-doc.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT="${1:?usage: bash build.sh OUTDIR}"
NAME=gettext-doc
PKG=gettext-doc
VER=0.21-12
SHA=223dfc01cf70c03ce1c56bc3acc18a806292cc6af71d5cffcc4674a221ae2bea
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
( cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null 2>&1 )
DEB="$(ls "$TMP"/${PKG}_*.deb)"
echo "$SHA  $DEB" | sha256sum -c --quiet
dpkg-deb -x "$DEB" "$TMP/x"
SRC="$TMP/x/usr/share/doc/gettext"
DST="$OUT/$NAME/docs"
rm -rf "$DST"; mkdir -p "$DST"
# texi2html chapter pages of the gettext manual, byte for byte, names unchanged
for n in 1 2 3 4 5 6 7 9 10 11 12 13 14 15 16; do cp -p "$SRC/gettext_$n.html" "$DST/"; done
cp -p "$SRC/FAQ.html" "$DST/FAQ.html"
cp -p "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $DST: $(ls "$DST" | wc -l) files, $(cat "$DST"/* | wc -c) bytes"
