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
RUN pip install . && useradd --create-home --uid 10001 scorestream

USER scorestream
CMD ["scorestream", "--help"]
