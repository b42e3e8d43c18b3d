# syntax=docker/dockerfile:1
# Instroom: multi-stage build, static binary, non-root user, exec-form entrypoint so
# SIGTERM reaches the process. The runtime image is slim Debian (not distroless) because
# the letter-scan channel runs tesseract and pdftotext.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/instroom ./cmd/instroom

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata tesseract-ocr tesseract-ocr-nld poppler-utils \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 instroom \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/instroom --create-home instroom \
 && mkdir -p /etc/instroom
COPY --from=build /out/instroom /usr/local/bin/instroom
USER 10001:10001
WORKDIR /var/lib/instroom
# data_dir defaults to "data" next to the config file, which is mounted read-only under
# /etc/instroom: point it at the data volume instead (a data_dir in the file wins only
# when this variable is unset; INSTROOM_* variables override the file).
ENV OMP_THREAD_LIMIT=1 \
    INSTROOM_DATA_DIR=/var/lib/instroom
VOLUME ["/var/lib/instroom"]
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/instroom"]
CMD ["run", "-config", "/etc/instroom/instroom.yaml"]
