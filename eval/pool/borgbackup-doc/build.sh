#!/bin/bash
# Rebuild OUTDIR/borgbackup-doc/docs/ from the Debian 12 package borgbackup-doc.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT="${1:?usage: bash build.sh OUTDIR}"
NAME=borgbackup-doc
PKG=borgbackup-doc
VER=1.2.4-1
SHA=f7c621fde76d460f071e8c0803d62198101f1c86ef3430db158f2e789570dbda
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
( cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null 2>&1 )
DEB="$(ls "$TMP"/${PKG}_*.deb)"
echo "$SHA  $DEB" | sha256sum -c --quiet
dpkg-deb -x "$DEB" "$TMP/x"
SRC="$TMP/x/usr/share/doc/borgbackup/html"
DST="$OUT/$NAME/docs"
rm -rf "$DST"; mkdir -p "$DST"
# top-level pages keep their names; usage/X.html -> usage-X.html, deployment/X.html -> deployment-X.html
for f in faq.html quickstart.html; do cp -p "$SRC/$f" "$DST/$f"; done
for f in general create prune compact extract init mount check key notes recreate help; do
  cp -p "$SRC/usage/$f.html" "$DST/usage-$f.html"
done
cp -p "$SRC/deployment/automated-local.html" "$DST/deployment-automated-local.html"
cp -p "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $DST: $(ls "$DST" | wc -l) files, $(cat "$DST"/* | wc -c) bytes"
