# The scorestream CLI (worker, simulator, web page, topic tools) for docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Project metadata and packages only (see .dockerignore); confluent-kafka and
# rocksdict ship manylinux wheels, so no compiler is needed.
COPY pyproject.toml README.md requirements.lock ./
COPY schemas ./schemas
COPY scorers ./scorers
COPY sinks ./sinks
COPY streams ./streams
# Every dependency at its locked version and hash (scripts/lock.sh writes the lock), then
# the package itself without resolving anything again: a rebuild installs the same bytes.
# The worker's state directory exists in the image, owned by the user that writes it: a
# named volume mounted there is created with this owner (an absent path would be root's).
RUN pip install --require-hashes -r requirements.lock \
    && pip install --no-deps . \
    && pip check \
    && useradd --create-home --uid 10001 scorestream \
    && install -d -o scorestream -g scorestream /data/worker

USER scorestream
CMD ["scorestream", "--help"]
