# syntax=docker/dockerfile:1
# A small runtime image: the rekon binary (migrations compiled in), the job
# files, SQL and onboarding templates, run as a non-root user.
#
# Build: docker build -t rekon .
# Run the scheduler (default command):
#        docker run --rm -e DATABASE_URL=postgres://... -e REKON_ELKASSA_KEY=... \
#          -e REKON_ELKASSA_TOKEN=... rekon
# Run one job and exit (crontab, systemd timer, Kubernetes CronJob):
#        docker run --rm -e DATABASE_URL=... ... rekon run nightly --no-progress
# See docs/operations.md.

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked || true
COPY src ./src
COPY sql ./sql
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin rekon

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home rekon
WORKDIR /app
COPY --from=build /src/target/release/rekon /usr/local/bin/rekon
COPY sql ./sql
COPY jobs ./jobs
COPY rekon.example.toml ./rekon.example.toml
COPY data/templates ./data/templates
# data/ is where an SQLite warehouse, the inbox and lock files would live.
RUN mkdir -p /app/data/inbox && chown -R rekon:rekon /app/data
USER 10001:10001
# SIGTERM lets a run commit what it holds and close as interrupted.
STOPSIGNAL SIGTERM
ENTRYPOINT ["rekon"]
CMD ["schedule", "--log-format", "json"]
