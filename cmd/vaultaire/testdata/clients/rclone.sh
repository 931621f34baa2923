#!/usr/bin/env bash
# rclone against a running Vaultaire: copy, check, sync, purge.
# Needs: ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, WORK, BUCKET.
set -euo pipefail
unset AWS_CA_BUNDLE # the machine's bundle breaks rclone's Go TLS setup
cd "$WORK"
export RCLONE_CONFIG="$WORK/rclone.conf"
cat > "$RCLONE_CONFIG" <<CFG
[vlt]
type = s3
provider = Other
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
endpoint = $ENDPOINT
region = us-east-1
force_path_style = true
upload_cutoff = 5M
chunk_size = 5M
CFG
r() { rclone --retries 1 --low-level-retries 1 "$@"; }
step() { echo "== $*"; }

mkdir -p tree/a tree/b
head -c $((12 * 1024 * 1024)) /dev/urandom > tree/big.bin
for i in 1 2 3; do echo "rclone $i" > "tree/a/f$i.txt"; done
echo "b" > "tree/b/with space.txt"

step "mkdir, copy (multipart for big.bin), check"
r mkdir "vlt:$BUCKET"
r copy tree "vlt:$BUCKET/tree"
r check tree "vlt:$BUCKET/tree"

step "sync after a change, check, copy down, compare"
echo changed > tree/a/f1.txt
rm tree/a/f2.txt
r sync tree "vlt:$BUCKET/tree"
r check tree "vlt:$BUCKET/tree"
r copy "vlt:$BUCKET/tree" down
diff -r tree down

step "purge"
r purge "vlt:$BUCKET"
dirs=$(r lsd vlt:)
if grep " $BUCKET\$" <<<"$dirs" >/dev/null; then echo "bucket still there"; exit 1; fi
echo "rclone: all steps passed"
