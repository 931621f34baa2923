#!/usr/bin/env bash
# aws-cli v2 (Debian's awscli) against a running Vaultaire: multipart cp up
# and down, sync both ways, presign + curl.
# Needs: ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, WORK, BUCKET; AWS (default /usr/bin/aws).
set -euo pipefail
unset AWS_CA_BUNDLE AWS_PROFILE
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
export AWS_CONFIG_FILE="$WORK/aws-config"
printf '[default]\ns3 =\n    multipart_threshold = 8MB\n    multipart_chunksize = 5MB\n' > "$AWS_CONFIG_FILE"
AWS=${AWS:-/usr/bin/aws}
version=$("$AWS" --version 2>&1)
case "$version" in aws-cli/2.*) echo "$version" ;; *) echo "$AWS is not aws-cli v2: $version"; exit 1;; esac
s3() { "$AWS" --endpoint-url "$ENDPOINT" s3 "$@"; }
s3api() { "$AWS" --endpoint-url "$ENDPOINT" s3api "$@"; }
q=--only-show-errors
step() { echo "== $*"; }
cd "$WORK"

step "mb"
s3 mb "s3://$BUCKET"

step "cp up/down 20 MiB through multipart"
head -c $((20 * 1024 * 1024)) /dev/urandom > big.bin
s3 cp $q big.bin "s3://$BUCKET/dir/big.bin"
s3 cp $q "s3://$BUCKET/dir/big.bin" big.back
cmp big.bin big.back
etag=$(s3api head-object --bucket "$BUCKET" --key dir/big.bin --query ETag --output text)
case "$etag" in *-*) ;; *) echo "expected a multipart ETag, got $etag"; exit 1;; esac

step "sync up, change, sync with --delete, sync down"
mkdir -p tree/a tree/b
for i in 1 2 3; do echo "file $i" > "tree/a/f$i.txt"; done
echo "with space" > "tree/b/name with space.txt"
s3 sync $q tree "s3://$BUCKET/tree"
[ "$(s3 ls --recursive "s3://$BUCKET/tree/" | wc -l)" -eq 4 ]
echo changed > tree/a/f1.txt
rm tree/a/f2.txt
s3 sync $q --delete tree "s3://$BUCKET/tree"
[ "$(s3 ls --recursive "s3://$BUCKET/tree/" | wc -l)" -eq 3 ]
mkdir down
s3 sync $q "s3://$BUCKET/tree" down
diff -r tree down

step "presign + curl"
url=$("$AWS" --endpoint-url "$ENDPOINT" s3 presign "s3://$BUCKET/tree/a/f1.txt" --expires-in 300)
case "$url" in *X-Amz-Signature=*) ;; *) echo "not a SigV4 URL: $url"; exit 1;; esac
[ "$(curl -fsS "$url")" = "changed" ]
code=$(curl -s -o /dev/null -w '%{http_code}' "${url/X-Amz-Expires=300/X-Amz-Expires=301}")
[ "$code" = 403 ]

step "rm, rb"
s3 rm $q --recursive "s3://$BUCKET/"
s3 rb "s3://$BUCKET"
echo "aws-cli v2: all steps passed"
