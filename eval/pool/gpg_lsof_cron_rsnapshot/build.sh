#!/bin/bash
# Rebuild OUTDIR/gpg_lsof_cron_rsnapshot/{docs/,questions.jsonl} from the Debian 12 packages.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
NAME=gpg_lsof_cron_rsnapshot
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
apt-get download gpg=2.2.40-1.1+deb12u2 lsof=4.95.0-1 cron=3.0pl1-162 rsnapshot=1.4.5-1 >/dev/null
sha256sum -c - <<'SUMS'
5bb24757dc7206f42f419cc1309a4496d1e8ef2b1b539e095ad1c173ef6aa65d  gpg_2.2.40-1.1+deb12u2_amd64.deb
e4b15cf8d0b9051cf7957e7ab29a67ca7d21f42ea1b2b7dad1b52e65d02d1408  lsof_4.95.0-1_amd64.deb
c1e12d9c993460e6396107668aa7ba79f8633decebb53aa6c38049584448be3f  cron_3.0pl1-162_amd64.deb
2913d1b96ce474abc512dd3792a73405a65d0389d23b5d80208fb0a420e38394  rsnapshot_1.4.5-1_all.deb
SUMS
for f in *.deb; do dpkg-deb -x "$f" x; done
render() { LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$1" 2>/dev/null | col -bx; }
D="$OUT/$NAME/docs"; rm -rf "$D"; mkdir -p "$D"
M=x/usr/share/man
render $M/man1/gpg.1.gz       > "$D/gpg.1.txt"
render $M/man8/lsof.8.gz      > "$D/lsof.8.txt"
render $M/man5/crontab.5.gz   > "$D/crontab.5.txt"
render $M/man8/cron.8.gz      > "$D/cron.8.txt"
render $M/man1/rsnapshot.1.gz > "$D/rsnapshot.1.txt"
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
ls -l "$D"; du -cb "$D"/* | tail -1
