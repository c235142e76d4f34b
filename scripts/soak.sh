#!/usr/bin/env bash
# Soak run: retracker under hours of paced, churning load on loopback, with a report line
# (rate, errors, latency percentiles, server RSS and CPU) every REPORT seconds.
# Figures from a run are kept in docs/soak.md. CI runs it for seconds on debug builds, to
# keep it working.
#
#   scripts/soak.sh                 # one hour, defaults below
#   DURATION=600 RATE=5000 scripts/soak.sh
#   SKIP_BUILD=1 TRACKER=path/to/retracker LOAD=path/to/retracker-load scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-3600}   # seconds of measured load
rate=${RATE:-2000}           # requests per second, paced
report=${REPORT:-300}        # seconds between report lines
torrents=${TORRENTS:-100000}
peers=${PEERS:-1000000}
churn=${CHURN:-0.05}         # chance an announce is a peer's last for a while (stopped)
peer_age=${PEER_AGE:-10}     # minutes: short, so that peers age out during the run
port=${PORT:-6970}
log=${LOG:-target/soak.log}

target_dir=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked -p retracker -p retracker-load
fi
tracker=${TRACKER:-$target_dir/release/retracker}
load=${LOAD:-$target_dir/release/retracker-load}

PEER_AGE=$peer_age SWEEP_INTERVAL=60 WORKER_THREADS=1 \
  "$tracker" -l "127.0.0.1:$port" 2>target/soak-server.log &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
sleep 1

{
  echo "soak: $(date -u +%FT%TZ), $(nproc) cores, PEER_AGE=$peer_age min, $rate req/s for $duration s"
  "$load" run --target "127.0.0.1:$port" --pid "$server" \
    --torrents "$torrents" --peers "$peers" --churn "$churn" --rate "$rate" \
    --duration "$duration" --report-every "$report" --warmup 0
} | tee "$log"
