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
COPY src ./src
COPY pipelines ./pipelines
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin pythumbio
COPY --from=build /src/target/release/pythumbio /usr/local/bin/pythumbio
USER 10001:10001
# The registry cache lives in a writable place for the non-root user.
ENV HOME=/tmp
RUN pythumbio check
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD ["sh", "-c", "curl -fsS \"http://127.0.0.1:${PYTHUMBIO_PORT:-8000}/healthz\" >/dev/null || exit 1"]
ENTRYPOINT ["pythumbio"]
