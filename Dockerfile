# Images of the four services, built from source (`docker compose up --build`).
#
#   docker build --target svc-pricing -t mosaic/svc-pricing:dev .
#
# Targets: svc-pricing, svc-dashboard, svc-accounts, shell. Each runtime image is one static
# binary on `scratch`, run as uid 10001, with a HEALTHCHECK that is the binary's own
# `healthcheck` subcommand (no shell, no curl). The builder is the official Rust image pinned
# to the toolchain the project uses.
#
# Without a registry (no base image can be pulled), use docker/Dockerfile.offline through
# scripts/build-images: same runtime images, from binaries built on the host.
# docs/CONTAINERS.md has both paths, the sizes and the CI stage.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
# crt-static: a glibc binary with no shared libraries, so it runs on `scratch` (glibc >= 2.34
# has the files and dns NSS modules built in, so compose service names resolve).
# `--features otlp`: the images can export traces (OTEL_EXPORTER_OTLP_ENDPOINT), http or
# https (rustls, webpki roots); a default `cargo build` leaves that stack out.
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --target x86_64-unknown-linux-gnu --features otlp \
        -p svc-pricing -p svc-dashboard -p svc-accounts -p shell \
 && mkdir -p /out/data /out/secrets \
 && cd target/x86_64-unknown-linux-gnu/release \
 && cp svc-pricing svc-dashboard svc-accounts shell /out/ \
 && chown 10001:10001 /out/data /out/secrets

FROM scratch AS svc-pricing
COPY --from=builder /out/svc-pricing /svc-pricing
COPY --from=builder --chown=10001:10001 /out/secrets /secrets
USER 10001:10001
ENV BIND=0.0.0.0
EXPOSE 1313
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/svc-pricing", "healthcheck"]
ENTRYPOINT ["/svc-pricing"]

FROM scratch AS svc-dashboard
COPY --from=builder /out/svc-dashboard /svc-dashboard
COPY --from=builder --chown=10001:10001 /out/secrets /secrets
USER 10001:10001
ENV BIND=0.0.0.0
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/svc-dashboard", "healthcheck"]
ENTRYPOINT ["/svc-dashboard"]

FROM scratch AS svc-accounts
COPY --from=builder /out/svc-accounts /svc-accounts
COPY --from=builder --chown=10001:10001 /out/secrets /secrets
COPY --from=builder --chown=10001:10001 /out/data /data
USER 10001:10001
ENV BIND=0.0.0.0 ACCOUNTS_DATABASE=/data/accounts.db
VOLUME /data
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/svc-accounts", "healthcheck"]
ENTRYPOINT ["/svc-accounts"]

FROM scratch AS shell
COPY --from=builder /out/shell /shell
COPY --from=builder --chown=10001:10001 /out/secrets /secrets
USER 10001:10001
ENV BIND=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/shell", "healthcheck"]
ENTRYPOINT ["/shell"]
