#!/bin/sh
# The image's entrypoint: the first argument picks the service, the rest go to it.
#   gameserver   the dedicated game server (dist/gameserver/main.js)
#   allocator    the standalone allocator  (dist/allocator/main.js)
#   matchmaker   the lobby / gateway       (dist/matchmaker/main.js)
#   up           the whole local stack     (hangar up: fleets from config/fleets, API 8000, admin 9090)
#   hangar ARGS  the hangar command        (hangar validate, hangar status --api ..., ...)
# Anything else runs as a command (so Kubernetes' `command:` and `docker run IMAGE node ...` work).
set -e
cd "$(dirname "$0")/.."
service="${1:-}"
case "$service" in
  gameserver | game-server) shift; exec node --expose-gc dist/gameserver/main.js "$@" ;;
  allocator) shift; exec node dist/allocator/main.js "$@" ;;
  matchmaker) shift; exec node dist/matchmaker/main.js "$@" ;;
  up) shift; exec node dist/cli/main.js up "$@" ;;
  hangar) shift; exec node dist/cli/main.js "$@" ;;
  "")
    echo "usage: docker run IMAGE gameserver|allocator|matchmaker|up|hangar ARGS...|COMMAND..." >&2
    exit 2
    ;;
  *) exec "$@" ;;
esac
