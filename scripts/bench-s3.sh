#!/usr/bin/env bash
# make bench-s3: a standard S3 benchmark suite against a fresh single-node
# Vaultaire, next to two references measured in the same run: the raw disk
# (dd write+fsync and read of the same filesystem) and the harness's own
# ceiling (an in-process S3 sink that discards PUTs and serves GETs from
# memory). Writes every report, plot and a summary to $RESULTS.
#
# Knobs: DURATION (default 10s per workload), CONCURRENCY (16), RESULTS.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
RESULTS=${RESULTS:-results/$(date -u +%Y%m%dT%H%M%SZ)}
BIN=bin/vaultaire
mkdir -p "$RESULTS"
SUMMARY="$RESULTS/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

go build -o "$BIN" ./cmd/vaultaire
work=$(mktemp -d "${TMPDIR:-/tmp}/vaultaire-bench-XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say "== raw disk ($(df -P "$work" | awk 'NR==2{print $1}'), 1 GiB, dd)"
dd if=/dev/urandom of="$work/src" bs=1M count=1024 status=none
w=$(dd if="$work/src" of="$work/raw" bs=1M conv=fsync 2>&1 | tail -1)
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
r=$(dd if="$work/raw" of=/dev/null bs=1M 2>&1 | tail -1)
say "  write+fsync: $w"
say "  read:        $r"
rm -f "$work/src" "$work/raw"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VAULTAIRE_ROOT_ACCESS_KEY=VABENCHROOT VAULTAIRE_ROOT_SECRET_KEY=vaultaire-bench-secret
"$BIN" server --address "127.0.0.1:$port" --admin-address 127.0.0.1:0 --data "$work/data" --log-level warn > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

suite=(
  "put-4KiB   --workload put --size 4KiB"
  "get-4KiB   --workload get --size 4KiB --keys 2000"
  "put-16MiB  --workload put --size 16MiB"
  "get-16MiB  --workload get --size 16MiB --keys 64"
  "mixed-1MiB --workload mixed --size 1MiB --keys 500"
)
run_suite() { # target-name, endpoint flags...
  local target=$1; shift
  for spec in "${suite[@]}"; do
    read -r name args <<<"$spec"
    say ""
    say "== $target $name"
    # shellcheck disable=SC2086
    "$BIN" bench "$@" $args --duration "$DURATION" --concurrency "$CONCURRENCY" \
      --progress never --out "$RESULTS/$target/$name" | tee -a "$SUMMARY"
  done
}
run_suite vaultaire --endpoint "http://127.0.0.1:$port" --access-key VABENCHROOT --secret-key vaultaire-bench-secret --path-style
run_suite sink --sink

say ""
say "== Vaultaire relative to the harness ceiling (B/A, A = sink, B = vaultaire)"
for spec in "${suite[@]}"; do
  read -r name _ <<<"$spec"
  "$BIN" bench compare "$RESULTS/sink/$name/result.json" "$RESULTS/vaultaire/$name/result.json" | tee -a "$SUMMARY"
done
echo
echo "reports, plots (result.svg) and summary.txt in $RESULTS"
