# pythumbio: multi-stage build. The builder compiles against GStreamer's development files; the
# runtime image carries only the GStreamer plugins the pipelines use, and refuses to build if
# any element is missing (`pythumbio check`).

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
# The dependencies, compiled in a layer of their own against stub sources: a change of the
# service's code rebuilds the crate alone, not every dependency.
RUN mkdir -p src pipelines/parts \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src pipelines
COPY src ./src
COPY pipelines ./pipelines
# COPY keeps the files' own times, which can be older than the stubs': touched, they are built.
RUN touch src/lib.rs src/main.rs build.rs && cargo build --release --locked

FROM debian:bookworm-slim
# Where the image's source lives is the builder's to say: --build-arg SOURCE=<repository URL>.
ARG VERSION=0.1.0
ARG SOURCE=""
LABEL org.opencontainers.image.title="pythumbio" \
      org.opencontainers.image.description="Video thumbnails, streaming WebM transcodes, previews and metadata over HTTP, on GStreamer" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin pythumbio
COPY --from=build /src/target/release/pythumbio /usr/local/bin/pythumbio
USER 10001:10001
# The registry cache lives in a writable place for the non-root user.
ENV HOME=/tmp
RUN pythumbio check
EXPOSE 8000
# The binary asks its own /healthz (PYTHUMBIO_HOST, PYTHUMBIO_PORT): no curl in the image.
# Podman keeps HEALTHCHECK only in the docker format: `podman build --format docker`.
HEALTHCHECK --interval=30s --timeout=3s CMD ["pythumbio", "health"]
ENTRYPOINT ["pythumbio"]
