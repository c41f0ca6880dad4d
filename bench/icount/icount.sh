#!/bin/bash
# Instructions per call of one case, under callgrind: (I(3n) - I(n)) / 2n, so start-up and
# compilation cancel out. Repeatable to a few instructions, where timings on a shared machine swing.
#   bash bench/icount/icount.sh <case> [n=50000] [dist=dist/index.js]
# Cases (bench/icount/one.mjs): bare minimal execute cockatiel timeout signal baresync gate sync
# premade newerr minreject reject. Needs valgrind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kase=$1; n=${2:-50000}; dist=$(realpath "${3:-$here/../../dist/index.js}")
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded "$here/one.mjs" "$dist" "$kase" "$1" 2>&1 | grep "Collected" | awk '{print $4}'; }
a=$(ir "$n"); b=$(ir $((3 * n)))
echo "$kase $(((b - a) / (2 * n))) instructions per call"
