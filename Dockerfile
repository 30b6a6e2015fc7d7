# syntax=docker/dockerfile:1
# Build: docker build -t rekon .
# Run:   docker run --rm -e DATABASE_URL=postgres://... -e REKON_ELKASSA_KEY=... \
#          -e REKON_ELKASSA_TOKEN=... rekon sync

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked || true
COPY src ./src
COPY sql ./sql
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home rekon
WORKDIR /app
COPY --from=build /src/target/release/rekon /usr/local/bin/rekon
COPY sql ./sql
COPY rekon.example.toml ./rekon.example.toml
COPY data/templates ./data/templates
USER rekon
ENTRYPOINT ["rekon"]
CMD ["sync", "--no-progress"]
