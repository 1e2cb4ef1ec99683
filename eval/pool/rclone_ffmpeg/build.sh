#!/bin/bash
# Rebuild OUTDIR/rclone_ffmpeg/{docs/,questions.jsonl} from the Debian 12 packages.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
NAME=rclone_ffmpeg
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
apt-get download rclone=1.60.1+dfsg-2+b5 ffmpeg=7:5.1.9-0+deb12u1 >/dev/null
sha256sum -c - <<'SUMS'
703722dcab0c487322690fe68c7f8d6787e54e1ecd1297800d1382687ddbd81a  rclone_1.60.1+dfsg-2+b5_amd64.deb
2ba8ead87657c123ce6de2de5ecdbc1fb4ead9a4b317b85b8ec41e16c890fe01  ffmpeg_7%3a5.1.9-0+deb12u1_amd64.deb
SUMS
dpkg-deb -x rclone_1.60.1+dfsg-2+b5_amd64.deb x
dpkg-deb -x 'ffmpeg_7%3a5.1.9-0+deb12u1_amd64.deb' x
render() { LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$1" 2>/dev/null | col -bx; }
D="$OUT/$NAME/docs"; rm -rf "$D"; mkdir -p "$D"
# rclone.1 renders to ~1.98 MB; whole chapters are dropped to stay under ~1.5 MB (see cut_rclone.py)
render x/usr/share/man/man1/rclone.1.gz > rclone.full.txt
python3 "$HERE/cut_rclone.py" rclone.full.txt "$D/rclone.1.txt"
render x/usr/share/man/man1/ffmpeg.1.gz > "$D/ffmpeg.1.txt"
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
ls -l "$D"; du -cb "$D"/* | tail -1
