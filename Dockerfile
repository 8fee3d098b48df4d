# The scorestream CLI (worker, simulator, web page, topic tools) for docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Project metadata and packages only (see .dockerignore); confluent-kafka and
# rocksdict ship manylinux wheels, so no compiler is needed.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY scorers ./scorers
COPY sinks ./sinks
COPY streams ./streams
# The worker's state directory exists in the image, owned by the user that writes it: a
# named volume mounted there is created with this owner (an absent path would be root's).
RUN pip install . \
    && useradd --create-home --uid 10001 scorestream \
    && install -d -o scorestream -g scorestream /data/worker

USER scorestream
CMD ["scorestream", "--help"]
