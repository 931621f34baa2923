#!/usr/bin/env bash
# End-to-end check with the real aws CLI against a running Vaultaire.
# Needs: ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, WORK (scratch dir).
# Optional: CA_BUNDLE (PEM file of the CA of an https ENDPOINT), BIG_MIB
# (size of the multipart file, default 200).
set -euo pipefail
unset AWS_CA_BUNDLE AWS_PROFILE
BIG_MIB=${BIG_MIB:-200}
curl_tls=()
if [ -n "${CA_BUNDLE:-}" ]; then
  export AWS_CA_BUNDLE=$CA_BUNDLE
  curl_tls=(--cacert "$CA_BUNDLE")
fi
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
# aws CLI v1 presigns with SigV2 unless told otherwise; this script pins SigV4 (the
# client matrix, clients_test.go, covers SigV2 presigning).
export AWS_CONFIG_FILE="$WORK/aws-config"
printf '[default]\ns3 =\n    signature_version = s3v4\n' > "$AWS_CONFIG_FILE"
s3() { aws --endpoint-url "$ENDPOINT" s3 "$@"; }
q=--only-show-errors
s3api() { aws --endpoint-url "$ENDPOINT" s3api "$@"; }
step() { echo "== $*"; }
cd "$WORK"

step "mb"
s3 mb s3://cli-e2e

step "refused uploads are answered at once"
# botocore sends Expect: 100-continue with every PutObject; a refusal must
# come back before the body is sent, never hang (over TLS 1.3 it once
# did). The 60 s bound only turns a hang into a failure.
head -c 40000 /dev/urandom > small.bin
refused() { # want-code, put-object args...
  local want=$1 rc=0 out; shift
  out=$(timeout 60 aws --endpoint-url "$ENDPOINT" s3api put-object --body small.bin "$@" 2>&1) || rc=$?
  if [ "$rc" = 124 ]; then echo "refused put-object $* hung"; exit 1; fi
  if [ "$rc" = 0 ]; then echo "put-object $* was accepted"; exit 1; fi
  case "$out" in *"($want)"*) ;; *) echo "put-object $*: want $want, got: $out"; exit 1;; esac
}
refused NoSuchBucket --bucket no-such-bucket --key x
refused NotImplemented --bucket cli-e2e --key x --server-side-encryption aws:kms
AWS_SECRET_ACCESS_KEY=wrong-secret refused SignatureDoesNotMatch --bucket cli-e2e --key x
if s3api head-object --bucket cli-e2e --key x 2>/dev/null; then echo "a refused upload was stored"; exit 1; fi

step "cp up/down a $BIG_MIB MiB file through multipart"
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom > big.bin
s3 cp $q big.bin s3://cli-e2e/dir/big.bin
s3 cp $q s3://cli-e2e/dir/big.bin big.back
cmp big.bin big.back
[ "$(sha256sum < big.bin)" = "$(sha256sum < big.back)" ]
etag=$(s3api head-object --bucket cli-e2e --key dir/big.bin --query ETag --output text)
case "$etag" in *-*) ;; *) echo "expected a multipart ETag, got $etag"; exit 1;; esac
s3api head-object --bucket cli-e2e --key dir/big.bin --query ContentLength --output text | grep -qx $((BIG_MIB * 1024 * 1024))

step "ls"
s3 ls s3://cli-e2e/ | grep -q "PRE dir/"
s3 ls s3://cli-e2e/dir/ | grep -q "big.bin"
s3 ls | grep -q cli-e2e

step "sync up, change, sync again, sync down with --delete"
mkdir -p tree/a/b tree/c
for i in 1 2 3; do echo "file $i" > "tree/a/f$i.txt"; done
echo deep > tree/a/b/deep.txt
echo "with space" > "tree/c/name with space.txt"
echo plus > "tree/c/a+b.txt"
s3 sync $q tree s3://cli-e2e/tree
[ "$(s3 ls --recursive s3://cli-e2e/tree/ | wc -l)" -eq 6 ]
echo changed > tree/a/f1.txt
rm tree/a/f2.txt
s3 sync $q --delete tree s3://cli-e2e/tree
[ "$(s3 ls --recursive s3://cli-e2e/tree/ | wc -l)" -eq 5 ]
mkdir down
s3 sync $q s3://cli-e2e/tree down
diff -r tree down

step "presign + curl"
url=$(aws --endpoint-url "$ENDPOINT" s3 presign s3://cli-e2e/tree/a/f1.txt --expires-in 300)
[ "$(curl -fsS "${curl_tls[@]}" "$url")" = "changed" ]
# Tampering with a presigned URL is refused.
bad=${url/X-Amz-Expires=300/X-Amz-Expires=301}
code=$(curl -s "${curl_tls[@]}" -o /dev/null -w '%{http_code}' "$bad")
[ "$code" = 403 ]

step "rm"
s3 rm $q s3://cli-e2e/dir/big.bin
if s3api head-object --bucket cli-e2e --key dir/big.bin 2>/dev/null; then echo "deleted object still there"; exit 1; fi
s3 rm $q --recursive s3://cli-e2e/tree
s3 rb s3://cli-e2e
if s3 ls s3://cli-e2e 2>/dev/null; then echo "bucket still there"; exit 1; fi
echo "awscli e2e: all steps passed"
