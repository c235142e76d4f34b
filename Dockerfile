# retracker in a container: a static musl binary on an empty image, run as non-root.
#
#   docker build -t retracker .
#   docker run -p 8080:80 retracker            # or: docker compose up -d (see .env.example)

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/retracker /retracker

FROM scratch
COPY --from=build /retracker /retracker
# For forwarders reached over https.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Docker lets any user bind ports below 1024 inside a container (it sets
# net.ipv4.ip_unprivileged_port_start=0), so :80 needs no root here.
USER 65532:65532
ENV LISTEN_ADDR=:80
EXPOSE 80
ENTRYPOINT ["/retracker"]
