# syntax=docker/dockerfile:1
# The production image: the API by default (uvicorn), and `rms worker` / `rms db migrate` from
# the same image (compose.yaml runs all three). Production settings come from the environment;
# GraphiQL is off in production, so its npm assets are not built here.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY tools ./tools
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin rms
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    LOG_JSON=true
USER rms
WORKDIR /home/rms
EXPOSE 8000
# Liveness only (no I/O): an orchestrator's readiness probe uses /api/health/ready.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/api/health/live', timeout=2).status != 200)"]
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
