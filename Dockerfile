# The deployd image: the daemon on port 3000, its key, tokens and logins in /data.
#
#   docker build -t deployd .
#   docker run -d --name deployd --restart unless-stopped \
#       -p 127.0.0.1:3000:3000 -e URL=https://deploy.example.com \
#       -v /var/run/docker.sock:/var/run/docker.sock -v deployd-data:/data deployd
#   docker exec -it deployd cli            # the token TUI, as with the original tool
#
# BASE may be any Debian-like image with python3 (3.11 or newer) and its venv
# module: the official python image (the default), or Debian's own python3 with
# python3-venv. deployd goes into a venv at /opt/deployd, which is first on
# PATH, so both bases give the same commands. Build behind a proxy with
# --build-arg HTTPS_PROXY=...; pip reads it, and it is not kept in the image.
ARG BASE=python:3.12-slim
FROM ${BASE}

# PATH is spelled out rather than extended: an imported base may set none.
ENV PATH=/opt/deployd/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

# Only what pip needs to install the package (see .dockerignore). The same
# step removes the sources and, once deployd is in, the venv's own pip and
# setuptools: nothing to build with stays behind. README* rather than
# README.md: the package description is welcome, not required.
COPY setup.cfg setup.py pyproject.toml README.md /tmp/deployd-src/
COPY deployd /tmp/deployd-src/deployd
COPY cli /tmp/deployd-src/cli
COPY contrib/docker/healthcheck.py /tmp/deployd-src/healthcheck.py

# The deployd user (uid 10001) owns /data for those who run the image with
# --user deployd (see below); the image itself runs as root.
RUN python3 -m venv /opt/deployd \
    && pip install --use-pep517 /tmp/deployd-src \
    && install -m 0755 /tmp/deployd-src/healthcheck.py /opt/deployd/bin/deployd-healthcheck \
    && ln -s deployd-cli /opt/deployd/bin/cli \
    && rm -rf /tmp/deployd-src \
    && pip uninstall --yes --quiet pip setuptools \
    && groupadd --gid 10001 deployd \
    && useradd --uid 10001 --gid deployd --home-dir /data --no-create-home \
        --no-log-init --shell /usr/sbin/nologin deployd \
    && mkdir -p /data \
    && chown deployd:deployd /data \
    && chmod 0750 /data

# deployd runs as root by default: the Docker socket it drives is normally
# root:docker 0660, and the docker group's id differs from host to host, so no
# fixed user inside can be given access in the image. To drop root, run it as
# the deployd user and add the socket's group by number:
#   docker run --user deployd --group-add "$(stat -c %g /var/run/docker.sock)" ...
# Either way, access to the socket is root-equivalent on the host: deployd can
# start any container. Keep its port on loopback or behind a proxy.
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
    CMD ["deployd-healthcheck"]
ENTRYPOINT ["deployd"]
