#!/usr/bin/env bash
# Builds a stand-in for the Redis image docker-compose.redis.yml names, offline: this machine's
# redis-server and the shared libraries ldd lists for it, on an empty image, so the compose file
# runs where no image can be pulled (tests/compose_redis.rs). Like the official image, it runs
# `redis-server ...` in /data and turns protected mode off when no config file is given (the
# other services reach it by name, not over loopback).
#
#   scripts/redis-image.sh [TAG]      # TAG defaults to retracker-redis:local
#   REDIS_IMAGE=localhost/retracker-redis:local docker-compose -f docker-compose.redis.yml up -d
set -euo pipefail
tag=${1:-retracker-redis:local}
server=$(command -v redis-server || true)
if [ -z "$server" ]; then
  echo "no redis-server on PATH: install it first (apt-get install redis-server)" >&2
  exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT

# The two programs, at their paths on this machine, each with the libraries it loads.
for program in "$server" /bin/sh; do
  for file in "$program" $(ldd "$program" | grep -o '/[^ ]*'); do
    mkdir -p "$context$(dirname "$file")"
    cp -L "$file" "$context$file"
  done
done
# On PATH under the name the compose file's command uses.
if [ "$(dirname "$server")" != /usr/bin ]; then
  mkdir -p "$context/usr/bin"
  cp -L "$server" "$context/usr/bin/redis-server"
fi

cat >"$context/entrypoint.sh" <<'EOF'
#!/bin/sh
# Options alone run redis-server with them; with no config file named, protected mode would
# refuse every client from another container, as the official image also sees to.
case "$1" in -*) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ] && [ ! -f "${2:-}" ]; then
  set -- "$@" --protected-mode no
fi
exec "$@"
EOF
chmod 755 "$context/entrypoint.sh"
mkdir -p "$context/data"

cat >"$context/Containerfile" <<'EOF'
FROM scratch
COPY / /
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["/entrypoint.sh"]
CMD ["redis-server"]
EOF
podman build --pull=never -t "$tag" -f "$context/Containerfile" "$context"
