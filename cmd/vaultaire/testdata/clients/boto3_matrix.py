"""boto3 against a running Vaultaire.

Default checksums on (where botocore has them), multipart upload_file and
download_file, put_object with each checksum algorithm, a presigned POST
upload with requests, and Signature Version 2: a presigned GET and PUT
(botocore's 's3' signature version, as aws-cli v1 presigns) and
header-signed requests.

Needs: ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, WORK, BUCKET.
Exits non-zero on the first failure.
"""
import hashlib
import os
import sys

import boto3
import botocore
import botocore.exceptions
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint = os.environ["ENDPOINT"]
bucket = os.environ["BUCKET"]
work = os.environ["WORK"]
os.environ.pop("AWS_CA_BUNDLE", None)


def step(msg):
    print("==", msg, flush=True)


def client(signature_version="s3v4", **extra):
    kw = dict(s3={"addressing_style": "path"}, signature_version=signature_version,
              retries={"max_attempts": 1})
    kw.update(extra)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                        config=Config(**kw))


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


checksums_default = False
extra = {}
try:
    Config(request_checksum_calculation="when_supported")
    extra = {"request_checksum_calculation": "when_supported",
             "response_checksum_validation": "when_supported"}
    checksums_default = True
except TypeError:
    pass  # botocore before 1.36 has no default checksums
print("boto3", boto3.__version__, "botocore", botocore.__version__,
      "default checksums:", checksums_default, flush=True)
s3 = client(**extra)

step("create bucket")
s3.create_bucket(Bucket=bucket)

step("multipart upload_file / download_file, 12 MiB in 5 MiB parts")
big = os.path.join(work, "big.bin")
with open(big, "wb") as f:
    f.write(os.urandom(12 << 20))
tc = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
s3.upload_file(big, bucket, "dir/big.bin", Config=tc)
back = os.path.join(work, "big.back")
s3.download_file(bucket, "dir/big.bin", back, Config=tc)
assert sha(big) == sha(back), "downloaded bytes differ"
head = s3.head_object(Bucket=bucket, Key="dir/big.bin")
assert "-" in head["ETag"], head["ETag"]
assert head["ContentLength"] == 12 << 20

step("put_object with each checksum algorithm")
algs = ["CRC32", "CRC32C", "SHA1", "SHA256"]
try:
    from botocore.httpchecksum import _CHECKSUM_CLS  # noqa
    if "crc64nvme" in _CHECKSUM_CLS and botocore.compat.HAS_CRT:
        algs.append("CRC64NVME")
except Exception:
    pass
for alg in algs:
    body = ("checksummed with " + alg).encode()
    try:
        r = s3.put_object(Bucket=bucket, Key="sum/" + alg, Body=body, ChecksumAlgorithm=alg)
    except botocore.exceptions.MissingDependencyException:
        print("  ", alg, "needs awscrt, which this botocore lacks; skipped", flush=True)
        continue
    assert r.get("Checksum" + alg), (alg, r)
    g = s3.get_object(Bucket=bucket, Key="sum/" + alg, ChecksumMode="ENABLED")
    assert g["Body"].read() == body, alg

step("presigned POST with requests")
post = s3.generate_presigned_post(
    bucket, "uploads/${filename}",
    Fields={"Content-Type": "text/plain", "success_action_status": "201"},
    Conditions=[{"Content-Type": "text/plain"}, {"success_action_status": "201"},
                ["content-length-range", 1, 1 << 20]],
    ExpiresIn=300)
resp = requests.post(post["url"], data=post["fields"],
                     files={"file": ("hello.txt", b"posted by a browser form")})
assert resp.status_code == 201, (resp.status_code, resp.text)
g = s3.get_object(Bucket=bucket, Key="uploads/hello.txt")
assert g["Body"].read() == b"posted by a browser form"
assert g["ContentType"] == "text/plain", g["ContentType"]
bad = dict(post["fields"], **{"Content-Type": "image/png"})
resp = requests.post(post["url"], data=bad, files={"file": ("evil.txt", b"x")})
assert resp.status_code == 403 and "AccessDenied" in resp.text, (resp.status_code, resp.text)

step("Signature Version 2: presigned GET and PUT (aws-cli v1 style)")
v2 = client(signature_version="s3")
url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "uploads/hello.txt"}, ExpiresIn=300)
assert "AWSAccessKeyId=" in url and "Signature=" in url, url
resp = requests.get(url)
assert resp.status_code == 200 and resp.content == b"posted by a browser form", (resp.status_code, resp.text)
url = v2.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2/put.txt", "ContentType": "text/plain"}, ExpiresIn=300)
resp = requests.put(url, data=b"put with a V2 URL", headers={"Content-Type": "text/plain"})
assert resp.status_code == 200, (resp.status_code, resp.text)
assert s3.get_object(Bucket=bucket, Key="v2/put.txt")["Body"].read() == b"put with a V2 URL"
tampered = url.replace("v2/put.txt", "v2/other.txt")
resp = requests.put(tampered, data=b"x", headers={"Content-Type": "text/plain"})
assert resp.status_code == 403, (resp.status_code, resp.text)

step("Signature Version 2: header-signed requests")
v2.put_object(Bucket=bucket, Key="v2/header.txt", Body=b"v2 header", Metadata={"k": "v"})
assert v2.get_object(Bucket=bucket, Key="v2/header.txt")["Body"].read() == b"v2 header"
assert v2.head_object(Bucket=bucket, Key="v2/header.txt")["Metadata"] == {"k": "v"}
keys = [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="v2/")["Contents"]]
assert keys == ["v2/header.txt", "v2/put.txt"], keys

step("cleanup")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for o in page.get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=o["Key"])
s3.delete_bucket(Bucket=bucket)
print("boto3: all steps passed")
