# syntax=docker/dockerfile:1
# One image for every Hangar service; the first argument picks which (scripts/docker-entrypoint.sh):
#   docker run IMAGE up           the local stack: fleets from config/fleets, API 8000, admin 9090
#   docker run IMAGE allocator    the standalone allocator (API 8000, admin 9090)
#   docker run IMAGE matchmaker   the lobby / gateway (8080, admin 9090)
#   docker run IMAGE gameserver   one game server (the fleet YAML runs `node dist/bundle/gameserver/main.js`)
#   docker run IMAGE hangar ...   the hangar command

ARG NODE_IMAGE=node:20.19-bookworm-slim

# --- build: every dependency, TypeScript compiled to dist/ ---------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY core core
COPY records records
COPY store store
COPY fleets fleets
COPY allocator allocator
COPY gameserver gameserver
COPY matchmaker matchmaker
COPY cli cli
COPY examples examples
COPY test test
COPY bench bench
COPY scripts/bundle.mjs scripts/
# tsc, then the game servers' bundles (scripts/bundle.mjs).
RUN npm run build

# --- production dependencies only -----------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime: production dependencies, compiled services, config and migrations; non-root -------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GAME_SERVER_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
# The services only: no tests, no benchmarks.
COPY --from=build /app/dist/core dist/core
COPY --from=build /app/dist/records dist/records
COPY --from=build /app/dist/store dist/store
COPY --from=build /app/dist/fleets dist/fleets
COPY --from=build /app/dist/allocator dist/allocator
COPY --from=build /app/dist/gameserver dist/gameserver
COPY --from=build /app/dist/matchmaker dist/matchmaker
COPY --from=build /app/dist/cli dist/cli
COPY --from=build /app/dist/examples dist/examples
COPY --from=build /app/dist/bundle dist/bundle
COPY config config
COPY migrations migrations
COPY scripts/docker-entrypoint.sh scripts/admin-request.mjs scripts/
# The state directory (local stack's logs, file_sd targets, secrets; PGlite when no DATABASE_URL)
# belongs to the unprivileged user; everything else stays read-only to it.
RUN mkdir -p /app/.hangar && chown node:node /app/.hangar
USER node

# The deployment guide's ports: game (7777/tcp, 7778/udp), the matchmaker's WebSocket (8080),
# admin and metrics (9090); and the allocator's API (8000).
EXPOSE 7777/tcp 7778/udp 8000/tcp 8080/tcp 9090/tcp

# /health/live on the admin port (ADMIN_PORT, else HANGAR_ADMIN__PORT, else 9090).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "scripts/admin-request.mjs", "live"]

ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["up"]
