#!/bin/sh
# The image's entrypoint: the first argument picks the service, the rest go to it.
#   gameserver   the dedicated game server (dist/bundle/gameserver/main.js, scripts/bundle.mjs)
#   allocator    the standalone allocator  (dist/allocator/main.js)
#   matchmaker   the lobby / gateway       (dist/matchmaker/main.js)
#   up           the whole local stack     (hangar up: fleets from config/fleets, API 8000, admin 9090)
#   hangar ARGS  the hangar command        (hangar validate, hangar status --api ..., ...)
# Anything else runs as a command (so Kubernetes' `command:` and `docker run IMAGE node ...` work).
set -e
cd "$(dirname "$0")/.."
# The processes that run the matchmaker get a larger young generation: at 10,000 tickets/s what a
# ticket allocates lives for tens of milliseconds, and with the default semi-space much of it was
# copied by young collections before it died (BENCHMARKS.md, Matchmaking: 15-20 % of the CPU per ticket).
matchmaker_node_flags="--max-semi-space-size=64"
service="${1:-}"
case "$service" in
  gameserver | game-server) shift; exec node --expose-gc dist/bundle/gameserver/main.js "$@" ;;
  allocator) shift; exec node dist/allocator/main.js "$@" ;;
  matchmaker) shift; exec node $matchmaker_node_flags dist/matchmaker/main.js "$@" ;;
  up) shift; exec node $matchmaker_node_flags dist/cli/main.js up "$@" ;;
  hangar) shift; exec node dist/cli/main.js "$@" ;;
  "")
    echo "usage: docker run IMAGE gameserver|allocator|matchmaker|up|hangar ARGS...|COMMAND..." >&2
    exit 2
    ;;
  *) exec "$@" ;;
esac
