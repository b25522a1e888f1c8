# mockllm as a service container: docker build -t mockllm . && docker run -p 8000:8000 mockllm
# Your scenarios: -v "$PWD/scenarios:/scenarios:ro" (served beside the built-ins).
# The control routes and /metrics need -e MOCKLLM_ADMIN_TOKEN=...; /healthz never does.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md /src/
COPY mockllm /src/mockllm
COPY scenarios /src/scenarios
RUN pip install "/src[fast,metrics,redis]" && rm -rf /src \
    && useradd --create-home --uid 10001 mockllm \
    && mkdir /scenarios && chown mockllm /scenarios

USER mockllm
WORKDIR /home/mockllm
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["mockllm", "serve", "--host", "0.0.0.0", "--port", "8000", "--scenarios", "builtin", "--scenarios", "/scenarios", "--grace", "5"]
