# Multi-stage build of the cvo server.
#   docker build -t cvo .
#   docker run -p 50051:50051 -v cvo-data:/data cvo
# The build needs no protoc: build.rs uses the one vendored by protoc-bin-vendored.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin cvo

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data cvo \
    && mkdir -p /data && chown cvo /data
COPY --from=builder /src/target/release/cvo /usr/local/bin/cvo
USER cvo
WORKDIR /data
VOLUME ["/data"]
EXPOSE 50051
ENV CVO_ADDR=0.0.0.0:50051 \
    CVO_DATA_DIR=/data
ENTRYPOINT ["/usr/local/bin/cvo"]
CMD ["serve"]
