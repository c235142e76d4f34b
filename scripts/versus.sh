#!/usr/bin/env bash
# retracker against Debian's opentracker and the bare HTTP ceiling (`retracker-load baseline`),
# driven by wrk with BitTorrent announces (scripts/announce.lua), keep-alive and with a new
# connection per announce (`Connection: close`). Every server runs on CPU 0 with one thread,
# wrk on CPU 1; the servers take turns, in one order and then the reverse, over ROUNDS
# rounds. Each turn prints requests per CPU second (the server's CPU from /proc/PID/stat
# before and after) and wrk's p99; the summary gives each server's geometric mean and
# median p99. Both trackers hold the workload's 100,000 torrents and 1,000,000 peers first.
# CI runs it small (TORRENTS, PEERS) on debug builds, to keep it working; the figures come
# from full runs on a quiet machine (docs/versus.md).
#
#   scripts/versus.sh                       # about three minutes
#   OLD=path/to/retracker scripts/versus.sh  # and that build of retracker alongside
#   TRACKER=path/to/retracker                # measure that build instead of the one built
#   DURATION=5 ROUNDS=4 CONNECTIONS=32 SKIP_BUILD=1 scripts/versus.sh
#   TORRENTS=1000 PEERS=10000 LOAD=path/to/retracker-load   # a smaller workload, another tool
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-5}
rounds=${ROUNDS:-4}
connections=${CONNECTIONS:-32}
torrents=${TORRENTS:-100000}
peers=${PEERS:-1000000}
out=${OUT:-target/versus}
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in wrk opentracker; do
  if ! command -v "$tool" >/dev/null; then
    as_root=$([ "$(id -u)" = 0 ] || echo sudo)
    $as_root apt-get update -qq
    $as_root apt-get install -y -qq --no-install-recommends "$tool" >/dev/null
  fi
done
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked -p retracker -p retracker-load
fi
tracker=${TRACKER:-$target_dir/release/retracker}
load=${LOAD:-$target_dir/release/retracker-load}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Debian's opentracker answers listed torrents only; it chroots into -d, so the list is
# named from there.
"$load" hashes --torrents "$torrents" >"$out/whitelist.txt"

names=() ports=() servers=()
# Registers a started server: its name, HTTP port and pid.
add() { names+=("$1"); ports+=("$2"); servers+=("$3"); pids+=("$3"); }

WORKER_THREADS=1 taskset -c 0 "$tracker" -l 127.0.0.1:7101 --udp 127.0.0.1:7102 \
  2>>"$out/retracker.log" &
add retracker 7101 $!
udp_targets=(--target 127.0.0.1:7102)
if [ -n "${OLD:-}" ]; then
  WORKER_THREADS=1 taskset -c 0 "$OLD" -l 127.0.0.1:7103 --udp 127.0.0.1:7104 \
    2>>"$out/retracker-old.log" &
  add retracker-old 7103 $!
fi
taskset -c 0 opentracker -i 127.0.0.1 -p 7105 -P 7106 -d "$out" -w /whitelist.txt \
  >>"$out/opentracker.log" 2>&1 &
add opentracker 7105 $!
taskset -c 0 "$load" baseline --listen 127.0.0.1:7107 --threads 1 >/dev/null &
add ceiling 7107 $!
sleep 1

# The same 1,000,000 peers into each tracker, over UDP (opentracker closes every HTTP
# connection, which the load generator's keep-alive preload does not expect). A tracker the
# load generator does not measure gets a run of its own.
preload() {
  taskset -c 1 "$load" run --protocol udp --connections 4 --udp-window 32 --idle poll \
    --torrents "$torrents" --peers "$peers" --target "$1" --duration 0.2 --warmup 0 >"$out/preload-${1//[:.]/-}.txt"
}
echo "== preloading $peers peers into each tracker"
preload 127.0.0.1:7102
[ -n "${OLD:-}" ] && preload 127.0.0.1:7104
preload 127.0.0.1:7106

# Each server answers one announce with peers, or the comparison would mean nothing.
sample_hash=$(head -1 "$out/whitelist.txt" | sed 's/../%&/g')
for i in "${!names[@]}"; do
  answer=$(curl -s "http://127.0.0.1:${ports[$i]}/announce?info_hash=$sample_hash&peer_id=-CHECK0-000000000000&port=6881&uploaded=0&downloaded=0&left=0&compact=1&numwant=50" | tr -d "\\0")
  case "$answer" in
    *5:peers*) ;;
    *) echo "versus: ${names[$i]} did not answer an announce with peers: $answer" >&2; exit 1 ;;
  esac
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)
results="$out/results.txt"
: >"$results"

# One turn: wrk against server $1 in mode $2 (keep-alive or close); appends a result line.
turn() {
  local i=$1 mode=$2 before after line
  before=$(cpu_ticks "${servers[$i]}")
  line=$(taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" -s scripts/announce.lua \
    "http://127.0.0.1:${ports[$i]}/announce" -- "$out/whitelist.txt" \
    "$([ "$mode" = close ] && echo close || echo keep)" | grep '^wrk-result')
  after=$(cpu_ticks "${servers[$i]}")
  echo "$line" | awk -v name="${names[$i]}" -v mode="$mode" -v ticks=$((after - before)) \
    -v hz="$ticks_per_second" '{
      cpu = ticks / hz
      printf "%-5s %-13s %8d requests %5d errors %6.2f CPU s %7.0f per CPU s  p99 %6.2f ms\n",
        mode, name, $3, $5, cpu, (cpu > 0 ? $3 / cpu : 0), $9 / 1000
    }' | tee -a "$results"
}

order=("${!names[@]}")
for round in $(seq "$rounds"); do
  echo "== round $round"
  for mode in close keep; do
    for i in "${order[@]}"; do turn "$i" "$mode"; done
  done
  # The reverse order next round, so drift and order bias fall on every server alike.
  reversed=()
  for ((k = ${#order[@]} - 1; k >= 0; k--)); do reversed+=("${order[$k]}"); done
  order=("${reversed[@]}")
done

echo "== geometric mean of requests per CPU second, median p99, over $rounds rounds"
awk '{
  key = $1 " " $2; n[key]++; logsum[key] += log($10 > 0 ? $10 : 1)
  p99[key, n[key]] = $15
} END {
  for (key in n) {
    m = n[key]
    for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
      if (p99[key, b] < p99[key, a]) { t = p99[key, a]; p99[key, a] = p99[key, b]; p99[key, b] = t }
    median = (m % 2) ? p99[key, (m + 1) / 2] : (p99[key, m / 2] + p99[key, m / 2 + 1]) / 2
    rate[key] = exp(logsum[key] / m)
    printf "%-19s %7.0f per CPU s  p99 %6.2f ms\n", key, rate[key], median
  }
  for (mode_i = 1; mode_i <= 2; mode_i++) {
    mode = mode_i == 1 ? "close" : "keep"
    if ((mode " opentracker") in rate)
      printf "%s: retracker %.2fx opentracker, %.2f of the ceiling\n", mode,
        rate[mode " retracker"] / rate[mode " opentracker"], rate[mode " retracker"] / rate[mode " ceiling"]
  }
}' "$results" | sort | tee "$out/summary.txt"
