# syntax=docker/dockerfile:1
#
# Tributary's container image.
#
#   docker build -t tributary:0.1.0 .
#   docker run --rm -p 9464:9464 -p 13133:13133 tributary:0.1.0
#
# Three stages: `build` compiles the TypeScript sources to dist/ (the only
# stage with dev dependencies and the compiler), `deps` installs the
# production dependencies from the lock file, and the final stage is
# distroless: Node.js and glibc, no shell, no package manager, no npm, no
# sources. All three are Debian 12 (bookworm), so the native prebuilds that
# `deps` picks (lmdb, msgpackr-extract) match the runtime's glibc.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot
# The npm that honours package.json's `allowScripts` policy (the same one
# the project's lock file is made with); the base image's bundled npm may be older.
ARG NPM_VERSION=11.19.1

# ---- build: TypeScript → dist/ ---------------------------------------------
FROM ${NODE_IMAGE} AS build
ARG NPM_VERSION
WORKDIR /src
RUN npm install --global --no-audit --no-fund "npm@${NPM_VERSION}"
COPY package.json package-lock.json ./
# Compiling needs no install script (the compiler ships as a per-platform
# package), so none runs here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only --------------------------------------
FROM ${NODE_IMAGE} AS deps
ARG NPM_VERSION
WORKDIR /app
# unix-dgram (the StatsD unixgram transport; Node has no unix datagram
# sockets) is the one approved native build: its toolchain lives in this
# stage only and never reaches the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN npm install --global --no-audit --no-fund "npm@${NPM_VERSION}"
COPY package.json package-lock.json ./
# `allowScripts` in package.json decides which install scripts may run;
# --strict-allow-scripts fails the build if a dependency brings a script
# nobody has reviewed, instead of running it.
RUN npm ci --omit=dev --strict-allow-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime -------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
WORKDIR /app
# NODE_OPTIONS: V8's old space is sized from the container's memory limit at
# start-up. Node reads the cgroup limit (memory.max, or v1's
# memory.limit_in_bytes; the host's memory when there is none) and takes this
# percentage of it. No shell or entry script is needed, so it works in a
# distroless image. 50% leaves the rest of the limit to the code, buffers,
# sockets and the young generation; memory_limiter sheds load before RSS
# reaches the limit (see docs/operations.md, "Sizing").
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size-percentage=50
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# Numeric, so that Kubernetes' runAsNonRoot can verify it (distroless "nonroot").
# Files stay owned by root: the process cannot modify its own code.
USER 65532:65532
# CONTRACT §4: OTLP gRPC, OTLP HTTP, StatsD, Prometheus exporter, admin.
EXPOSE 4317 4318 8125/udp 9464 13133
# No HEALTHCHECK by design: there is no shell or curl in the image, a second
# Node process would spend ~40 MiB of the container's memory limit every
# interval, and Kubernetes ignores image health checks anyway; it probes
# GET /healthz and GET /readyz on the admin port (deploy/k8s/).
HEALTHCHECK NONE
ENTRYPOINT ["/nodejs/bin/node", "bin/tributary.js"]
CMD ["run", "--config", "config/default.yaml"]
