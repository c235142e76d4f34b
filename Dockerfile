# retracker in a container: a static musl binary on an empty image, run as non-root.
#
#   docker build -t retracker .
#   docker run -p 8080:80 retracker            # or: docker-compose up -d --build (see .env.example)

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools ca-certificates libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# Cargo reads every target and workspace member the manifest names before building one.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tools ./tools
# Permitted only (+p), raised by the binary itself: Podman and Kubernetes keep :80 for root,
# and with +ep the kernel would refuse to start it where the capability is dropped.
RUN cargo build --release --locked -p retracker --target x86_64-unknown-linux-musl \
 && setcap cap_net_bind_service=+p target/x86_64-unknown-linux-musl/release/retracker

FROM scratch
# BuildKit and Podman keep the file capability (an xattr) across this copy.
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/retracker /retracker
# For forwarders reached over https.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
USER 65532:65532
ENV LISTEN_ADDR=:80
# 6969/udp serves BEP 15 once UDP_LISTEN_ADDR=:6969 turns it on.
EXPOSE 80 6969/udp
ENTRYPOINT ["/retracker"]
