#!/bin/bash
# Rebuild OUTDIR/texlive-latex-base-doc/{docs,questions.jsonl} from the Debian 12 package.
# Usage: bash build.sh OUTDIR   (needs apt-get, dpkg-deb, sha256sum; the .deb is ~85 MB)
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
NAME=texlive-latex-base-doc
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
SPEC="texlive-latex-base-doc=2022.20230122-3"
DEB="texlive-latex-base-doc_2022.20230122-3_all.deb"
SUM="122dbbe00bd22f872b1837eb86bd76fbac6ec84dd4f5f0c76cc9c18484485848"
cd "$TMP"
apt-get download -q "$SPEC" >/dev/null 2>&1 || apt-get download "$SPEC"
echo "$SUM  $DEB" | sha256sum -c --quiet -
mkdir x; dpkg-deb -x "$DEB" x
DOCS="$OUT/$NAME/docs"
rm -rf "$OUT/$NAME"; mkdir -p "$DOCS"
SRC=x/usr/share/doc/texlive-doc/latex/base
for f in usrguide.pdf clsguide.pdf fntguide.pdf; do
  cp "$SRC/$f" "$DOCS/$f"     # byte for byte
done
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $OUT/$NAME: $(ls "$DOCS" | wc -l) files, $(cat "$DOCS"/* | wc -c) bytes"
