# The frontdesk controller. Models are mounted at /models (see docker-compose.yml), never baked in.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# package.json's override points onnxruntime-web here (see scripts/no-onnxruntime-web).
COPY scripts/no-onnxruntime-web ./scripts/no-onnxruntime-web
RUN npm ci --no-audit --no-fund
COPY web ./web
RUN npx vite build --config web/vite.config.ts

FROM node:24-bookworm-slim
# The offline floor: flite/espeak-ng voices, pocketsphinx, and what adapts it to phone audio on first start;
# bzip2 for `npm run models` to unpack the recognizer archives.
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng flite tini bzip2 \
      pocketsphinx pocketsphinx-en-us sphinxtrain sphinxbase-utils asterisk-core-sounds-en asterisk-core-sounds-en-wav \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts/no-onnxruntime-web ./scripts/no-onnxruntime-web
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY --from=build /app/web/dist ./web/dist
COPY models/README.md models/manifest.json ./models/
COPY scripts ./scripts
ENV FRONTDESK_DATA_DIR=/data FRONTDESK_MODELS_DIR=/models NODE_ENV=production
VOLUME ["/data", "/models"]
EXPOSE 8080 5060/udp 5060/tcp 20000-20999/udp
# Restart policy lives with the runner (docker-compose.yml: restart: unless-stopped; docker run
# --restart unless-stopped): the process exits non-zero on an unexpected error and must come back.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FRONTDESK_HTTP_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (new calls get 503; calls in progress get FRONTDESK_DRAIN_TIMEOUT_S to finish), then
# stops within 10 s: give `docker stop -t` / stop_grace_period that much.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/frontdesk.js", "start"]
