#!/usr/bin/env bash
# s3cmd against a running Vaultaire with SIGV2=True or False: put
# (multipart), get, ls, info, del, sync.
# Needs: ENDPOINT (http://host:port), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, WORK, BUCKET, SIGV2.
set -euo pipefail
cd "$WORK"
hostport=${ENDPOINT#http://}
cat > s3cfg <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $hostport
host_bucket = $hostport
use_https = False
signature_v2 = $SIGV2
bucket_location = us-east-1
check_ssl_certificate = False
CFG
s() { s3cmd -c s3cfg --no-progress "$@"; }
step() { echo "== $*"; }

step "mb"
s mb "s3://$BUCKET"

step "put 12 MiB in 5 MiB parts, get, compare"
head -c $((12 * 1024 * 1024)) /dev/urandom > big.bin
s put --multipart-chunk-size-mb=5 big.bin "s3://$BUCKET/dir/big.bin"
s get "s3://$BUCKET/dir/big.bin" big.back
cmp big.bin big.back
echo "small text" > small.txt
s put --mime-type=text/plain small.txt "s3://$BUCKET/small.txt"

step "ls, info"
# (grep reads whole outputs: with pipefail, grep -q closing the pipe early
# would fail s3cmd with EPIPE.)
has() { local out; out=$("${@:2}"); grep -e "$1" <<<"$out" >/dev/null || { echo "no '$1' in: $out"; exit 1; }; }
has "s3://$BUCKET/dir/big.bin" s ls "s3://$BUCKET/dir/"
has small.txt s ls -r "s3://$BUCKET"
has "MIME type:.*text/plain" s info "s3://$BUCKET/small.txt"
has "File size: $((12 * 1024 * 1024))" s info "s3://$BUCKET/dir/big.bin"

step "sync up, sync down, compare"
mkdir -p tree/a
for i in 1 2 3; do echo "s3cmd $i" > "tree/a/f$i.txt"; done
s sync tree/ "s3://$BUCKET/tree/"
mkdir down
s sync "s3://$BUCKET/tree/" down/
diff -r tree down

step "del"
s del "s3://$BUCKET/small.txt"
left=$(s ls "s3://$BUCKET/small.txt")
if grep small.txt <<<"$left" >/dev/null; then echo "deleted object still listed"; exit 1; fi
s del --recursive --force "s3://$BUCKET/"
s rb "s3://$BUCKET"
echo "s3cmd (signature_v2 = $SIGV2): all steps passed"
