# One image for the worker, the CLI and the sandbox targets.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The worker compiled, with its workflow bundle (dist/): about half the memory of running the sources through tsx.
RUN npm run build
ENV BULKPORT_STAGING_DIR=/staging
# Two malloc arenas instead of glibc's eight per core: the worker's threads (the SDK's core, libuv's, V8's, the workflow
# thread) each kept freed memory in an arena of their own. A 1M-product import peaked 35-40 MB lower, for the same CPU.
ENV MALLOC_ARENA_MAX=2
# V8 lets a heap grow to 4x what survived its last full collection when its limit is 2 GiB or more (any host of 8 GiB
# and up), and to at most 2x below that. Just under 2 GiB, a 1M-product import peaked about 50 MB lower for the same
# time (bench/README.md); no import's heap comes near the limit.
ENV NODE_OPTIONS=--max-old-space-size=2000
# The worker by default; the CLI and the sandbox run from source: `--import tsx client/cli.ts …`.
ENTRYPOINT ["node"]
CMD ["dist/worker.js"]
