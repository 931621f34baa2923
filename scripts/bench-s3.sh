#!/usr/bin/env bash
# make bench-s3: a standard S3 benchmark suite against a fresh single-node
# Vaultaire, then the same suite against a fresh 3-node loopback cluster
# (127.0.0.21-23, erasure shape chosen by --erasure auto from the live
# topology, requests spread round-robin over the three nodes' S3
# endpoints), next to two references measured in the same run: the raw disk
# (dd write+fsync and read of the same filesystem) and the harness's own
# ceiling (an in-process S3 sink that discards PUTs and serves GETs from
# memory). Only one target runs at a time. The single node is then
# restarted on the same data with TLS (a certificate made here with
# openssl) and the large-object, small-GET and refusal rows run again over
# HTTPS, for HTTPS/HTTP ratios measured in the same run. Writes every
# report, plot, a summary, cluster-vs-single.csv and https-vs-http.csv to
# $RESULTS.
#
# Knobs: DURATION (default 10s per workload), CONCURRENCY (16), RESULTS,
# ONLY=https (just the single node's HTTPS-vs-HTTP rows: no raw disk,
# cluster or sink; a few minutes, for repeating the pair on a busy machine).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
ONLY=${ONLY:-}
case "$ONLY" in ""|https) ;; *) echo "ONLY must be empty or https" >&2; exit 2 ;; esac
RESULTS=${RESULTS:-results/$(date -u +%Y%m%dT%H%M%SZ)}
BIN=bin/vaultaire
CLUSTER_IPS=(127.0.0.21 127.0.0.22 127.0.0.23)
mkdir -p "$RESULTS"
SUMMARY="$RESULTS/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

# The script's helpers (free ports, readiness, the summary tables) are
# small python3 programs, and openssl makes the HTTPS rows' certificate:
# install them on a fresh Debian machine.
for tool in python3 openssl; do
  command -v "$tool" >/dev/null 2>&1 && continue
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  else
    echo "bench-s3 needs $tool (apt-get install $tool)" >&2
    exit 1
  fi
done

go build -o "$BIN" ./cmd/vaultaire
work=$(mktemp -d "${TMPDIR:-/tmp}/vaultaire-bench-XXXXXX")
server_pid=""
node_pids=()
# stop_pids PID...: SIGTERM, up to 40s to shut down, then SIGKILL.
stop_pids() {
  local pid live
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 400); do
    live=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && live=1; done
    [ "$live" = 0 ] && break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  local pids=()
  [ -n "$server_pid" ] && pids+=("$server_pid")
  pids+=("${node_pids[@]}")
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  rm -rf "$work"
}
trap cleanup EXIT
# wait_tcp HOST PORT: until something listens (30s).
wait_tcp() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1:$2" >&2
  return 1
}
# free_ports HOST N: N distinct free TCP ports on HOST, one a line.
free_ports() {
  python3 - "$1" "$2" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    s.bind((sys.argv[1], 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

# disk_bound DIR: MiB/s that 16 concurrent writers of 16 MiB files, each
# made durable with fdatasync, get from DIR's file system for 6 s: the
# write bound of a 16 MiB PUT (divided by (k+m)/k for the data rate).
disk_bound() {
  python3 - "$1" <<'EOF'
import os, sys, threading, time
d, size, dur = sys.argv[1], 16 << 20, 6.0
buf = os.urandom(1 << 20)
os.makedirs(d, exist_ok=True)
total, lock, stop = [0], threading.Lock(), time.time() + dur
def writer(i):
    n = 0
    while time.time() < stop:
        p = os.path.join(d, f"w{i}-{n % 4}")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for _ in range(size >> 20):
            os.write(fd, buf)
        os.fdatasync(fd)
        os.close(fd)
        n += 1
        with lock:
            total[0] += size
start = time.time()
ts = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
for t in ts: t.start()
for t in ts: t.join()
for f in os.listdir(d): os.remove(os.path.join(d, f))
print(f"{total[0] / (1 << 20) / (time.time() - start):.1f}")
EOF
}
# measured_bench OUT SERVER-PID ADMIN-ADDR BENCH-COMMAND...: runs the bench
# command (with --keep, so no cleanup is measured) and writes OUT/bound.json:
# the CPU seconds the server used (/proc/PID/stat) and the bench process used
# (getrusage of the child), and the growth of the server's Raft log counters
# on ADMIN-ADDR's /metrics. "-" for the PID and address: no server (the sink).
measured_bench() {
  mkdir -p "$1"
  python3 - "$@" <<'EOF'
import json, os, resource, subprocess, sys, urllib.request
out, pid, admin, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
names = ("vaultaire_raft_log_syncs_total", "vaultaire_raft_log_entries_total", "vaultaire_raft_log_sync_seconds_total")
def ticks():  # utime + stime of the server (fields 14 and 15 of /proc/PID/stat)
    if pid == "-":
        return 0
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def log():
    vals = dict.fromkeys(names, 0.0)
    if admin == "-":
        return vals
    for line in urllib.request.urlopen(f"http://{admin}/metrics", timeout=10).read().decode().splitlines():
        name, _, v = line.partition(" ")
        if name in names:
            vals[name] = float(v)
    return vals
m0, t0 = log(), ticks()
sys.stdout.flush()
rc = subprocess.run(cmd).returncode  # --keep: no cleanup inside the measurement
t1, m1 = ticks(), log()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"server_cpu_s": (t1 - t0) / os.sysconf("SC_CLK_TCK"), "client_cpu_s": ru.ru_utime + ru.ru_stime,
           "cpus": os.cpu_count(), "log_syncs": m1[names[0]] - m0[names[0]],
           "log_entries": m1[names[1]] - m0[names[1]], "log_sync_s": m1[names[2]] - m0[names[2]]},
          open(os.path.join(out, "bound.json"), "w"))
sys.exit(rc)
EOF
}
# sample_cpu OUT PID...: every 100 ms until killed, appends a line to OUT:
# the wall time (Unix seconds) and the user+system CPU seconds of each PID
# so far (one python process, no fork per sample). The CPU-per-operation
# table takes the CPU inside the bench's measuring window from it (the
# window is result.json's "started" plus "elapsed_ns": no preparation, no
# cleanup).
sample_cpu() {
  local out=$1; shift
  exec python3 - "$out" "$@" <<'EOF'
import os, sys, time
out, pids = sys.argv[1], sys.argv[2:]
hz = os.sysconf("SC_CLK_TCK")
with open(out, "a") as f:
    while True:
        vals = []
        for p in pids:
            try:
                st = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                vals.append(f"{(int(st[11]) + int(st[12])) / hz:.2f}")
            except OSError:
                vals.append("nan")
        f.write(f"{time.time():.3f}\t" + "\t".join(vals) + "\n")
        f.flush()
        time.sleep(0.1)
EOF
}
# cpu_ticks PID: user+system clock ticks the process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

if [ -z "$ONLY" ]; then
  say "== raw disk ($(df -P "$work" | awk 'NR==2{print $1}'), 1 GiB, dd)"
  dd if=/dev/urandom of="$work/src" bs=1M count=1024 status=none
  w=$(dd if="$work/src" of="$work/raw" bs=1M conv=fsync 2>&1 | tail -1)
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  r=$(dd if="$work/raw" of=/dev/null bs=1M 2>&1 | tail -1)
  say "  write+fsync: $w"
  say "  read:        $r"
  rm -f "$work/src" "$work/raw"
fi

suite=(
  "put-4KiB   --workload put --size 4KiB"
  "get-4KiB   --workload get --size 4KiB --keys 2000"
  "put-16MiB  --workload put --size 16MiB"
  "get-16MiB  --workload get --size 16MiB --keys 64"
  "mixed-1MiB --workload mixed --size 1MiB --keys 500"
)
# Refusals: PUTs into a missing bucket (NoSuchBucket); 16 MiB bodies go
# with Expect: 100-continue (the Go SDK's rule above 2 MB), 4 KiB without.
refusals=(
  "refused-4KiB  --workload refused --size 4KiB"
  "refused-16MiB --workload refused --size 16MiB"
)
# What runs again over HTTPS against the same node.
https_suite=(
  "get-4KiB   --workload get --size 4KiB --keys 2000"
  "put-16MiB  --workload put --size 16MiB"
  "get-16MiB  --workload get --size 16MiB --keys 64"
  "${refusals[@]}"
)
failed=()
# measure_pids: server processes whose CPU run_specs samples during each
# workload (cpu.tsv beside its result.json), for the CPU-per-operation
# table; empty for the sink, which runs inside the load generator.
measure_pids=()
run_suite() { # target-name, endpoint flags...
  run_specs suite "$@"
}
run_specs() { # array-name, target-name, endpoint flags...
  local -n specs=$1
  local target=$2; shift 2
  for spec in "${specs[@]}"; do
    read -r name args <<<"$spec"
    say ""
    say "== $target $name"
    local sampler=""
    if [ "${#measure_pids[@]}" -gt 0 ]; then
      mkdir -p "$RESULTS/$target/$name"
      sample_cpu "$RESULTS/$target/$name/cpu.tsv" "${measure_pids[@]}" &
      sampler=$!
      # The first sample must come before the workload starts.
      for _ in $(seq 1 100); do [ -s "$RESULTS/$target/$name/cpu.tsv" ] && break; sleep 0.1; done
    fi
    # A failed workload (errors in setup, data that did not verify) is
    # recorded and the suite goes on; the script fails at the end.
    # shellcheck disable=SC2086
    "$BIN" bench "$@" $args --duration "$DURATION" --concurrency "$CONCURRENCY" \
      --progress never --out "$RESULTS/$target/$name" | tee -a "$SUMMARY" || failed+=("$target/$name")
    if [ -n "$sampler" ]; then
      sleep 0.3 # and one after it ends
      kill "$sampler" 2>/dev/null
      wait "$sampler" 2>/dev/null || true
    fi
  done
}

export VAULTAIRE_ROOT_ACCESS_KEY=VABENCHROOT VAULTAIRE_ROOT_SECRET_KEY=vaultaire-bench-secret
export VAULTAIRE_ADMIN_TOKEN="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
creds=(--access-key VABENCHROOT --secret-key vaultaire-bench-secret --path-style)

# --- single node ------------------------------------------------------------
mapfile -t sp < <(free_ports 127.0.0.1 2)
port=${sp[0]} admin_port=${sp[1]}
single=(server --address "127.0.0.1:$port" --admin-address "127.0.0.1:$admin_port"
  --rpc-address 127.0.0.1:0 --gossip-address 127.0.0.1:0 --console-address ""
  --data "$work/data" --log-level warn)
"$BIN" "${single[@]}" > "$work/server.log" 2>&1 &
server_pid=$!
wait_tcp 127.0.0.1 "$port" || { cat "$work/server.log" >&2; exit 1; }
if [ "$ONLY" = https ]; then
  run_specs https_suite vaultaire --endpoint "http://127.0.0.1:$port" "${creds[@]}"
else
  measure_pids=("$server_pid")
  run_suite vaultaire --endpoint "http://127.0.0.1:$port" "${creds[@]}"
  measure_pids=()
  # 16 MiB PUT once more, for the server's CPU per GiB stored and the ratio
  # to the disk's bound measured just before and just after (the shared disk
  # drifts within minutes).
  say ""
  say "== vaultaire put-16MiB-cpu (server CPU per GiB; disk bound before and after)"
  bound_before=$(disk_bound "$work/diskbound")
  t0=$(cpu_ticks "$server_pid")
  "$BIN" bench --endpoint "http://127.0.0.1:$port" "${creds[@]}" --workload put --size 16MiB \
    --duration "$DURATION" --concurrency "$CONCURRENCY" --progress never \
    --out "$RESULTS/vaultaire/put-16MiB-cpu" | tee -a "$SUMMARY" || failed+=("vaultaire/put-16MiB-cpu")
  t1=$(cpu_ticks "$server_pid")
  bound_after=$(disk_bound "$work/diskbound")
  echo "{\"cpu_ticks\": $((t1 - t0)), \"ticks_per_sec\": $(getconf CLK_TCK), \"disk_bound_before\": $bound_before, \"disk_bound_after\": $bound_after, \"drives\": $(ls "$work/data/drives" | wc -l)}" \
    > "$RESULTS/vaultaire/put-16MiB-cpu/cpu.json"
  # 4 KiB PUT once more, for the bounds on its rate (issue 20): the server's
  # and the load generator's CPU per PUT (one machine runs both), and the
  # Raft log's synced appends from /metrics (group size, sync latency); and
  # a refused 4 KiB PUT's (HTTP, SigV4, a bucket lookup; no metadata
  # write): the least server CPU a request costs, next to what 0.8x allows.
  for bound in "put-4KiB-bound put CPU per PUT of server and client; Raft log syncs" \
    "refused-4KiB-bound refused CPU per refused PUT of server and client"; do
    read -r name workload what <<<"$bound"
    say ""
    say "== vaultaire $name ($what)"
    measured_bench "$RESULTS/vaultaire/$name" "$server_pid" "127.0.0.1:$admin_port" \
      "$BIN" bench --endpoint "http://127.0.0.1:$port" "${creds[@]}" --workload "$workload" --size 4KiB \
      --duration "$DURATION" --concurrency "$CONCURRENCY" --progress never --keep \
      --out "$RESULTS/vaultaire/$name" | tee -a "$SUMMARY" || failed+=("vaultaire/$name")
  done
  run_specs refusals vaultaire --endpoint "http://127.0.0.1:$port" "${creds[@]}"
fi
stop_pids "$server_pid"
server_pid=""

# --- the same node over HTTPS -------------------------------------------------
# A CA and a P-256 server certificate for 127.0.0.1, valid two days; the
# bench trusts the CA (--ca-file). TLS 1.3, HTTP/1.1, keep-alive.
tlsdir="$work/tls"
mkdir -p "$tlsdir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=vaultaire bench CA" -keyout "$tlsdir/ca.key" -out "$tlsdir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$tlsdir/key.pem" -out "$tlsdir/req.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$tlsdir/ext.cnf"
openssl x509 -req -in "$tlsdir/req.csr" -CA "$tlsdir/ca.pem" -CAkey "$tlsdir/ca.key" -CAcreateserial \
  -days 2 -extfile "$tlsdir/ext.cnf" -out "$tlsdir/cert.pem" 2>/dev/null
"$BIN" "${single[@]}" --tls-cert "$tlsdir/cert.pem" --tls-key "$tlsdir/key.pem" > "$work/server-https.log" 2>&1 &
server_pid=$!
wait_tcp 127.0.0.1 "$port" || { cat "$work/server-https.log" >&2; exit 1; }
run_specs https_suite vaultaire-https --endpoint "https://127.0.0.1:$port" --ca-file "$tlsdir/ca.pem" "${creds[@]}"
stop_pids "$server_pid"
server_pid=""
rm -rf "$work/data"

if [ -z "$ONLY" ]; then
# --- 3-node cluster ---------------------------------------------------------
# Node 0 bootstraps and keeps the generated secret in its data dir; the
# others join its gossip address with that secret (from the environment,
# which ps does not show).
declare -A s3addr admin
endpoints=()
for i in "${!CLUSTER_IPS[@]}"; do
  ip=${CLUSTER_IPS[$i]}
  mapfile -t p < <(free_ports "$ip" 4)
  s3addr[$i]="$ip:${p[0]}" admin[$i]="$ip:${p[1]}"
  args=(server --address "${s3addr[$i]}" --admin-address "${admin[$i]}" --rpc-address "$ip:${p[2]}"
    --gossip-address "$ip:${p[3]}" --console-address "" --data "$work/cluster/n$i" --log-level warn)
  if [ "$i" = 0 ]; then
    seed="$ip:${p[3]}"
    "$BIN" "${args[@]}" > "$work/node$i.log" 2>&1 &
    node_pids+=($!)
    wait_tcp "$ip" "${p[0]}" || { cat "$work/node$i.log" >&2; exit 1; }
    for _ in $(seq 1 100); do [ -s "$work/cluster/n0/cluster.secret" ] && break; sleep 0.1; done
    VAULTAIRE_CLUSTER_SECRET=$(cat "$work/cluster/n0/cluster.secret")
    export VAULTAIRE_CLUSTER_SECRET
  else
    "$BIN" "${args[@]}" --join "$seed" > "$work/node$i.log" 2>&1 &
    node_pids+=($!)
  fi
  endpoints+=(--endpoint "http://${s3addr[$i]}")
done
# Every node must see all three alive, active and in the metadata Raft
# group with a leader, and be ready, before the erasure shape (auto) is
# taken from the topology by the first PUT.
if ! python3 - "${admin[@]}" <<'EOF'
import json, os, sys, time, urllib.request
token = os.environ["VAULTAIRE_ADMIN_TOKEN"]
nodes = sys.argv[1:]
deadline = time.time() + 120
why = ""
while time.time() < deadline:
    try:
        why = ""
        for a in nodes:
            req = urllib.request.Request(f"http://{a}/admin/v1/cluster", headers={"Authorization": "Bearer " + token})
            st = json.load(urllib.request.urlopen(req, timeout=5))
            members = st.get("nodes") or []
            alive = sum(m["state"] == "alive" and m["node_state"] == "active" for m in members)
            raft = sum(m["state"] == "alive" and m["raft_role"] != "none" for m in members)
            if alive != len(nodes) or raft != len(nodes) or not st.get("leader"):
                why = f"{a} sees {alive} alive active, {raft} in raft, leader {st.get('leader')!r}"
                break
            urllib.request.urlopen(f"http://{a}/health/ready", timeout=5)  # raises unless 200
        if not why:
            sys.exit(0)
    except Exception as e:  # not up yet, or not ready (503)
        why = f"{a}: {e}"
    time.sleep(0.2)
print(f"cluster did not converge: {why}", file=sys.stderr)
sys.exit(1)
EOF
then
  tail -n 20 "$work"/node*.log >&2
  exit 1
fi
say ""
say "== cluster: 3 nodes (${s3addr[0]} ${s3addr[1]} ${s3addr[2]}), 4 drives each, erasure auto; requests round-robin over the 3"
"$BIN" cluster --endpoint "http://${admin[0]}" status | tee -a "$SUMMARY"
# Which node leads (its index), for the CPU table.
python3 - "${admin[0]}" "${s3addr[@]}" > "$RESULTS/cluster-leader.txt" <<'EOF' || true
import json, os, sys, urllib.request
req = urllib.request.Request(f"http://{sys.argv[1]}/admin/v1/cluster", headers={"Authorization": "Bearer " + os.environ["VAULTAIRE_ADMIN_TOKEN"]})
st = json.load(urllib.request.urlopen(req, timeout=5))
lead = [m["s3_address"] for m in st.get("nodes") or [] if m.get("raft_role") == "leader"]
print(sys.argv[2:].index(lead[0]) if lead and lead[0] in sys.argv[2:] else "")
EOF
measure_pids=("${node_pids[@]}")
run_suite cluster "${endpoints[@]}" "${creds[@]}"
measure_pids=()
stop_pids "${node_pids[@]}"
node_pids=()
rm -rf "$work/cluster"

# --- harness ceiling --------------------------------------------------------
run_suite sink --sink
say ""
say "== sink put-4KiB-bound (CPU per PUT of the load generator and the in-process sink)"
measured_bench "$RESULTS/sink/put-4KiB-bound" - - "$BIN" bench --sink --workload put --size 4KiB \
  --duration "$DURATION" --concurrency "$CONCURRENCY" --progress never --keep \
  --out "$RESULTS/sink/put-4KiB-bound" | tee -a "$SUMMARY" || failed+=("sink/put-4KiB-bound")

say ""
say "== Vaultaire relative to the harness ceiling (B/A, A = sink, B = vaultaire)"
for spec in "${suite[@]}"; do
  read -r name _ <<<"$spec"
  [ -f "$RESULTS/sink/$name/result.json" ] && [ -f "$RESULTS/vaultaire/$name/result.json" ] || continue
  "$BIN" bench compare "$RESULTS/sink/$name/result.json" "$RESULTS/vaultaire/$name/result.json" | tee -a "$SUMMARY"
done

say ""
say "== 3-node cluster vs single node, same run (concurrency $CONCURRENCY, $DURATION per workload)"
python3 - "$RESULTS" "$CONCURRENCY" <<'EOF' | tee -a "$SUMMARY"
import csv, json, os, sys
results, conc = sys.argv[1], sys.argv[2]

def load(target, name):
    try:
        with open(os.path.join(results, target, name, "result.json")) as f:
            return json.load(f)
    except OSError:
        return None

def metric(rep, op, field):
    if rep is None:
        return None
    ops = rep["ops"] if op == "*" else [o for o in rep["ops"] if o["op"] == op]
    return sum(o[field] for o in ops) if ops else None

def errors(rep):
    return None if rep is None else sum(o["errors"] for o in rep["ops"])

rows = [
    ("16 MiB PUT MiB/s", "put-16MiB", "put", "mib_per_sec"),
    ("16 MiB GET MiB/s", "get-16MiB", "get", "mib_per_sec"),
    (f"4 KiB PUT ops/s (c={conc})", "put-4KiB", "put", "ops_per_sec"),
    (f"4 KiB GET ops/s (c={conc})", "get-4KiB", "get", "ops_per_sec"),
    ("mixed 1 MiB ops/s (all ops)", "mixed-1MiB", "*", "ops_per_sec"),
]
fmt = lambda v: "n/a" if v is None else f"{v:.1f}"
table = [("metric", "single", "cluster", "cluster/single", "sink ceiling", "errors single/cluster")]
out = []
for label, name, op, field in rows:
    s, c, k = (load(t, name) for t in ("vaultaire", "cluster", "sink"))
    a, b, z = metric(s, op, field), metric(c, op, field), metric(k, op, field)
    ratio = f"{b / a:.2f}" if a and b is not None else "n/a"
    es, ec = errors(s), errors(c)
    table.append((label, fmt(a), fmt(b), ratio, fmt(z), f"{'n/a' if es is None else es}/{'n/a' if ec is None else ec}"))
    out.append({"metric": label, "workload": name, "single": a, "cluster": b,
                "ratio": None if ratio == "n/a" else float(ratio), "sink": z, "errors_single": es, "errors_cluster": ec})
widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
for r in table:
    print("  " + "  ".join(v.ljust(widths[0]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(r)))
with open(os.path.join(results, "cluster-vs-single.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(out[0]))
    w.writeheader()
    w.writerows(out)
EOF
say ""
say "== Server CPU per operation: 3-node cluster vs single node, same run (ms of CPU per op)"
python3 - "$RESULTS" <<'EOF' | tee -a "$SUMMARY"
import datetime, json, math, os, sys
results = sys.argv[1]
def window_cpu(target, name):
    """CPU seconds of each sampled process inside the bench's measuring
    window, and the operations done in it; None when not measured."""
    try:
        rep = json.load(open(os.path.join(results, target, name, "result.json")))
        rows = [l.split("\t") for l in open(os.path.join(results, target, name, "cpu.tsv")).read().splitlines() if l]
    except OSError:
        return None
    t0 = datetime.datetime.fromisoformat(rep["started"].replace("Z", "+00:00")).timestamp()
    t1 = t0 + rep["elapsed_ns"] / 1e9
    samples = [(float(r[0]), [float(v) for v in r[1:]]) for r in rows]
    def at(t):  # CPU of each process at time t, interpolated between samples
        prev = None
        for ts, vals in samples:
            if ts >= t:
                if prev is None:
                    return None  # the window starts before the first sample
                if ts == prev[0]:
                    return vals
                f = (t - prev[0]) / (ts - prev[0])
                return [a + (b - a) * f for a, b in zip(prev[1], vals)]
            prev = (ts, vals)
        return None  # the window ends after the last sample
    c0, c1 = at(t0), at(t1)
    if c0 is None or c1 is None or any(math.isnan(v) for v in c0 + c1):
        return None
    return [b - a for a, b in zip(c0, c1)], sum(o["count"] for o in rep["ops"])
try:
    leader = int(open(os.path.join(results, "cluster-leader.txt")).read().strip())
except (OSError, ValueError):
    leader = None
rows = [("workload", "single", "cluster (sum)", "cluster/single", "per node" + (f" (n{leader} leads)" if leader is not None else ""))]
for name in ("put-16MiB", "get-16MiB", "put-4KiB", "get-4KiB", "mixed-1MiB"):
    s, c = window_cpu("vaultaire", name), window_cpu("cluster", name)
    if not s or not c or not s[1] or not c[1]:
        rows.append((name, "n/a", "n/a", "n/a", ""))
        continue
    a = sum(s[0]) / s[1] * 1e3
    per = [v / c[1] * 1e3 for v in c[0]]
    b = sum(per)
    rows.append((name, f"{a:.3f}", f"{b:.3f}", f"{b / a:.2f}", " ".join(f"n{i} {v:.3f}" for i, v in enumerate(per))))
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  " + "  ".join(v.ljust(widths[i]) if i in (0, 4) else v.rjust(widths[i]) for i, v in enumerate(r)))
print("  (server CPU inside each workload's measuring window, from /proc/PID/stat every 100 ms, over the")
print("   operations completed in it: those in flight at its edges add a few percent, more for short runs")
print("   of large objects. The load generator's CPU is not counted. A cluster that spends k times one")
print("   node's CPU per operation on the same two cores is capped near 1/k of one node's rate wherever")
print("   both are CPU-bound.)")
EOF
fi # [ -z "$ONLY" ]: cluster, sink and their tables
say ""
say "== HTTPS vs HTTP, the same node and data, same run (concurrency $CONCURRENCY, $DURATION per workload)"
python3 - "$RESULTS" <<'EOF' | tee -a "$SUMMARY"
import csv, json, os, sys
results = sys.argv[1]

def load(target, name):
    try:
        with open(os.path.join(results, target, name, "result.json")) as f:
            return json.load(f)
    except OSError:
        return None

def op(rep, name):
    if rep is None:
        return None
    ops = [o for o in rep["ops"] if o["op"] == name]
    return ops[0] if ops else None

# (label, workload, op, what, goal): what is a throughput field or "p50"
# (latency; its ratio is HTTP/HTTPS, so above 1 is better for both kinds).
rows = [
    ("16 MiB PUT MiB/s", "put-16MiB", "put", "mib_per_sec", 0.85),
    ("16 MiB GET MiB/s", "get-16MiB", "get", "mib_per_sec", 0.85),
    ("4 KiB GET ops/s (keep-alive)", "get-4KiB", "get", "ops_per_sec", 0.80),
    ("refused 4 KiB PUT ops/s", "refused-4KiB", "refused", "ops_per_sec", 1.0),
    ("refused 4 KiB PUT p50 latency", "refused-4KiB", "refused", "p50", 1.0),
    ("refused 16 MiB PUT ops/s (100-continue)", "refused-16MiB", "refused", "ops_per_sec", 1.0),
    ("refused 16 MiB PUT p50 latency", "refused-16MiB", "refused", "p50", 1.0),
]

def value(o, what):
    if o is None:
        return None
    if what == "p50":
        return o["latency"]["p50_ns"] / 1e6  # ms
    return o[what]

fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
table = [("metric", "http", "https", "ratio", "goal", "errors http/https")]
out = []
for label, name, opname, what, goal in rows:
    h, s = op(load("vaultaire", name), opname), op(load("vaultaire-https", name), opname)
    a, b = value(h, what), value(s, what)
    ratio = None
    if a and b:
        ratio = a / b if what == "p50" else b / a
    unit = " ms" if what == "p50" else ""
    errs = f"{'n/a' if h is None else h['errors']}/{'n/a' if s is None else s['errors']}"
    table.append((label, fmt(a) + unit, fmt(b) + unit, fmt(ratio), f">= {goal:.2f}", errs))
    out.append({"metric": label, "workload": name, "http": a, "https": b, "ratio": ratio, "goal": goal})
widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
for r in table:
    print("  " + "  ".join(v.ljust(widths[0]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(r)))
print("  (ratio: HTTPS/HTTP for throughput, HTTP/HTTPS for latency; 1.00 = the same)")
with open(os.path.join(results, "https-vs-http.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(out[0]))
    w.writeheader()
    w.writerows(out)
EOF
if [ -z "$ONLY" ]; then
say ""
say "== 16 MiB PUT on one node: CPU per GiB and the disk bound, same run"
python3 - "$RESULTS" <<'EOF' | tee -a "$SUMMARY"
import json, os, sys
d = os.path.join(sys.argv[1], "vaultaire", "put-16MiB-cpu")
try:
    rep = json.load(open(os.path.join(d, "result.json")))
    cpu = json.load(open(os.path.join(d, "cpu.json")))
except OSError as e:
    print(f"  n/a ({e})")
    sys.exit(0)
put = [o for o in rep["ops"] if o["op"] == "put"][0]
gib = put["bytes"] / (1 << 30)
cpus = cpu["cpu_ticks"] / cpu["ticks_per_sec"]
# The single node's shape: erasure auto gives 2+2 on its 4 drives, so the
# disk takes (k+m)/k bytes per byte stored.
n = cpu["drives"]
k, m = n - n // 2, n // 2
raw = (cpu["disk_bound_before"] + cpu["disk_bound_after"]) / 2
bound = raw * k / (k + m)
rows = [
    ("PUT MiB/s", f"{put['mib_per_sec']:.1f}", ""),
    ("server CPU-s per GiB stored", f"{cpus / gib:.2f}" if gib else "n/a", "goal <= 3.3"),
    (f"disk bound MiB/s (16 writers with fdatasync: {cpu['disk_bound_before']:.0f} before, {cpu['disk_bound_after']:.0f} after; / {(k + m) / k:.1f} for {k}+{m})", f"{bound:.1f}", ""),
    ("PUT / disk bound", f"{put['mib_per_sec'] / bound:.2f}" if bound else "n/a", "goal >= 0.80"),
]
w = max(len(r[0]) for r in rows)
for r in rows:
    print(f"  {r[0].ljust(w)}  {r[1].rjust(8)}  {r[2]}")
EOF
say ""
say "== 4 KiB PUT on one node: the sink ceiling and the bounds on its rate, same run"
python3 - "$RESULTS" "$CONCURRENCY" <<'EOF' | tee -a "$SUMMARY"
import json, os, sys
results, conc = sys.argv[1], int(sys.argv[2])
def load(*p):
    try:
        return json.load(open(os.path.join(results, *p)))
    except OSError:
        return None
def put(rep, op="put"):
    return None if rep is None else [o for o in rep["ops"] if o["op"] == op][0]
v, k = put(load("vaultaire", "put-4KiB", "result.json")), put(load("sink", "put-4KiB", "result.json"))
brep, bd = load("vaultaire", "put-4KiB-bound", "result.json"), load("vaultaire", "put-4KiB-bound", "bound.json")
b = put(brep)
ks, kd = put(load("sink", "put-4KiB-bound", "result.json")), load("sink", "put-4KiB-bound", "bound.json")
rs, rd = put(load("vaultaire", "refused-4KiB-bound", "result.json"), "refused"), load("vaultaire", "refused-4KiB-bound", "bound.json")
rows = []
if v and k:
    rows += [("4 KiB PUT ops/s (put-4KiB)", f"{v['ops_per_sec']:.0f}", ""),
             ("sink ceiling ops/s", f"{k['ops_per_sec']:.0f}", ""),
             ("PUT / sink", f"{v['ops_per_sec'] / k['ops_per_sec']:.2f}", "goal >= 0.80")]
if b and bd and b["count"] and bd["log_syncs"]:
    n, rate = b["count"], b["ops_per_sec"]
    srv, cli = bd["server_cpu_s"] / n, bd["client_cpu_s"] / n
    cpu_bound = bd["cpus"] / (srv + cli)
    lat = bd["log_sync_s"] / bd["log_syncs"]
    fsync_bound = conc / lat
    rows += [("4 KiB PUT ops/s (put-4KiB-bound run)", f"{rate:.0f}", ""),
             ("server CPU ms per PUT", f"{srv * 1e3:.3f}", ""),
             ("load generator CPU ms per PUT", f"{cli * 1e3:.3f}", ""),
             (f"CPU bound ops/s ({bd['cpus']} cores / (server + client CPU per PUT))", f"{cpu_bound:.0f}", ""),
             ("PUT / CPU bound", f"{rate / cpu_bound:.2f}", "near 1: CPU-bound"),
             ("Raft log entries per synced append (group size)", f"{bd['log_entries'] / bd['log_syncs']:.1f}", f"at most {conc}"),
             ("Raft log sync latency ms (write + fsync)", f"{lat * 1e3:.3f}", ""),
             ("Raft log busy syncing (sync time / run time)", f"{bd['log_sync_s'] / (brep['elapsed_ns'] / 1e9):.2f}", "near 1: the log is the bottleneck"),
             (f"fsync bound ops/s ({conc} PUTs per sync / sync latency)", f"{fsync_bound:.0f}", ""),
             ("PUT / fsync bound", f"{rate / fsync_bound:.2f}", "near 1: disk-bound")]
if b and bd and ks and kd and b["count"] and ks["count"]:
    # Both processes share the cores: PUT/sink <= sink CPU per PUT / (server
    # + client CPU per PUT), so the goal needs server CPU per PUT at most
    # sink CPU / 0.8 - client CPU.
    sink_cpu, cli = kd["client_cpu_s"] / ks["count"], bd["client_cpu_s"] / b["count"]
    need = sink_cpu / 0.8 - cli
    rows += [("sink CPU ms per PUT (load generator + in-process sink)", f"{sink_cpu * 1e3:.3f}", ""),
             ("server CPU ms per PUT that 0.8x of the sink allows", f"{need * 1e3:.3f}" if need > 0 else "none", "(sink CPU / 0.8 - load generator CPU)")]
if rs and rd and rs["count"]:
    rows += [("server CPU ms per refused PUT (no metadata write)", f"{rd['server_cpu_s'] / rs['count'] * 1e3:.3f}", "a stored PUT costs more: above the allowance, 0.8x is out of reach")]
if not rows:
    print("  n/a")
w = max((len(r[0]) for r in rows), default=0)
for r in rows:
    print(f"  {r[0].ljust(w)}  {r[1].rjust(8)}  {r[2]}")
EOF
fi # [ -z "$ONLY" ]: the CPU-per-GiB PUT runs only in the full suite
echo
echo "reports, plots (result.svg), summary.txt, cluster-vs-single.csv and https-vs-http.csv in $RESULTS"
if [ ${#failed[@]} -gt 0 ]; then
  say ""
  say "FAILED workloads: ${failed[*]}"
  exit 1
fi
