# One image for the worker, the CLI and the sandbox targets.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The worker compiled, with its workflow bundle (dist/): about half the memory of running the sources through tsx.
RUN npm run build
ENV BULKPORT_STAGING_DIR=/staging
# The worker by default; the CLI and the sandbox run from source: `--import tsx client/cli.ts …`.
ENTRYPOINT ["node"]
CMD ["dist/worker.js"]
