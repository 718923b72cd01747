# pythumbio: multi-stage build. The builder compiles against GStreamer's development files; the
# runtime image carries only the GStreamer plugins the service can load and the libraries they
# link, and refuses to build if anything it needs is missing (`pythumbio check`, then a
# thumbnail, a stream and the metadata of the built-in sample).

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

# FFmpeg with its own decoders, demuxers and parsers only (no encoders, muxers, protocols,
# devices or outside libraries), from the source of the very version Debian ships: Debian's
# gst-libav plugin loads it in place of Debian's FFmpeg (same version, same library names and
# symbol versions), whose encoders bring 234 MB of libraries. Without protocols, no FFmpeg
# demuxer can open a second file or a network address of its own accord.
FROM debian:bookworm-slim AS ffmpeg
WORKDIR /build
RUN sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends build-essential dpkg-dev nasm pkg-config zlib1g-dev \
 && apt-get source ffmpeg \
 && rm -rf /var/lib/apt/lists/*
# Built out of its source tree, in /build/obj.
WORKDIR /build/obj
RUN multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH) \
 && source=$(echo /build/ffmpeg-*/) \
 && "${source}configure" --prefix=/usr --libdir="/usr/lib/$multiarch" --shlibdir="/usr/lib/$multiarch" \
      --enable-shared --disable-static --disable-programs --disable-doc \
      --disable-autodetect --enable-pthreads --enable-zlib --disable-network \
      --disable-everything --enable-decoders --enable-parsers --enable-demuxers --enable-bsfs \
      --enable-filter=buffer,buffersink,yadif \
      --disable-avdevice --disable-swscale --disable-swresample --disable-postproc \
 && make -j"$(nproc)" && make install DESTDIR=/out \
 && rm -rf /out/usr/include "/out/usr/lib/$multiarch/pkgconfig" /out/usr/share \
      /out/usr/lib/"$multiarch"/*.so

# A small file of each kind the conformance corpus reads, as ffmpeg writes them, for the image's
# own check; none of them goes into the image. (They reach the last stage through the plugins
# stage, which is rebuilt whenever the last one is: podman cannot bind-mount a stage it took
# from its cache.)
FROM debian:bookworm-slim AS corpus
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,source=deploy/image/corpus.sh,target=/tmp/corpus.sh bash /tmp/corpus.sh /corpus

# The GStreamer packages, whole, with that FFmpeg laid over Debian's: what the service can load
# is picked from here.
FROM debian:bookworm-slim AS plugins
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav \
 && rm -rf /var/lib/apt/lists/*
COPY --from=ffmpeg /out/ /
COPY --from=corpus /corpus /corpus
COPY --from=build /src/target/release/pythumbio /usr/local/bin/pythumbio
COPY deploy/image/keep.sh /usr/local/bin/keep.sh
# The plugin files the service can load (`pythumbio plugins`: its elements and what decodebin
# may plug, without OpenGL, Vulkan or hardware codecs), GStreamer's plugin scanner, and every
# library those link, laid out under /keep as they stand here.
RUN HOME=/tmp pythumbio plugins > /tmp/plugins \
 && xargs keep.sh /keep /usr/local/bin/pythumbio \
      "$(find /usr/lib -name gst-plugin-scanner -type f)" < /tmp/plugins

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
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin pythumbio
COPY --from=plugins /keep/ /
USER 10001:10001
# The registry cache lives in a writable place for the non-root user.
ENV HOME=/tmp
# Nothing the service needs was left behind: every plugin kept loads (one missing a library
# would be left out of the list), every element of the pipeline set is there, and a thumbnail, a
# stream and the metadata of the built-in sample and of each file of the corpus come out right.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=bind,source=deploy/image/smoke.sh,target=/tmp/smoke.sh \
    --mount=type=bind,from=plugins,source=/tmp/plugins,target=/tmp/kept \
    --mount=type=bind,from=plugins,source=/corpus,target=/tmp/corpus \
    pythumbio plugins | diff - /tmp/kept \
 && pythumbio check && bash /tmp/smoke.sh /tmp/corpus && rm -rf /tmp/.cache
EXPOSE 8000
# The binary asks its own /healthz (PYTHUMBIO_HOST, PYTHUMBIO_PORT): no curl in the image.
# Podman keeps HEALTHCHECK only in the docker format: `podman build --format docker`.
HEALTHCHECK --interval=30s --timeout=3s CMD ["pythumbio", "health"]
ENTRYPOINT ["pythumbio"]
