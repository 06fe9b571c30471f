# syntax=docker/dockerfile:1.7
# ScholarLink Billing: build with dev dependencies, run with production ones only.
# The base is pinned to an exact Node 20 patch release on Debian 12; the release pipeline
# should also pin its digest (NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:...).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: compile TypeScript and generate the Prisma client (prisma CLI is a devDependency) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true NPM_CONFIG_UPDATE_NOTIFIER=false PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1
COPY package.json package-lock.json prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY prisma ./prisma
COPY scripts ./scripts
# postinstall generates src/generated/prisma from prisma/schema.prisma.
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# ---- deps: production node_modules only ----
# --ignore-scripts: postinstall needs the prisma CLI, which is not installed here; the client it
# generates is compiled into dist/ by the build stage. --omit=optional drops embedded-postgres'
# PostgreSQL binaries: production always runs against DATABASE_URL.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production PORT=3000 HOME=/tmp NPM_CONFIG_UPDATE_NOTIFIER=false
# The heap cap k8s/base/configmap.yaml sets too (pod limit 512Mi): without it V8 sizes the old space
# from the host's memory and lets it grow to several times the live set before collecting
# (npm run bench: peak RSS ~290 MB without, ~200 MB with; docs/benchmarks.md).
ENV NODE_OPTIONS=--max-old-space-size=384
# Everything is owned by root and read-only to the service's user: a compromised process
# cannot rewrite its own code, and the root filesystem can be mounted read-only.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY prisma/migrations ./prisma/migrations
COPY prisma/sql ./prisma/sql
# A fixed, numeric non-root UID/GID so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 3000
# No shell or npm in front of node: node is PID 1 and handles SIGTERM itself (graceful drain:
# readiness 503, in-flight requests finish, pool closes, exit 0). It spawns no children in
# production, so there are no zombies to reap and no init (tini) is needed.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/server.js"]
