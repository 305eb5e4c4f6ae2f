# One image for the worker, the CLI and the sandbox targets.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV BULKPORT_STAGING_DIR=/staging
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["workers/main.ts"]
