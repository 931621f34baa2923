package policy

import "strings"

// Condition keys a request context carries (normalized: lower case; the
// tag name after s3:ExistingObjectTag/ and s3:RequestObjectTag/ keeps its
// case). Build request contexts with these constants and TagKey.
const (
	KeySourceIP         = "aws:sourceip"
	KeySecureTransport  = "aws:securetransport"
	KeyCurrentTime      = "aws:currenttime"
	KeyEpochTime        = "aws:epochtime"
	KeyUsername         = "aws:username"
	KeyUserID           = "aws:userid"
	KeyPrincipalAccount = "aws:principalaccount"
	KeyPrincipalArn     = "aws:principalarn"
	KeyPrincipalType    = "aws:principaltype"
	KeyReferer          = "aws:referer"
	KeyUserAgent        = "aws:useragent"
	KeyPrefix           = "s3:prefix"
	KeyDelimiter        = "s3:delimiter"
	KeyMaxKeys          = "s3:max-keys"
	KeyACL              = "s3:x-amz-acl"
	KeySSE              = "s3:x-amz-server-side-encryption"
	KeySSEKMSKeyID      = "s3:x-amz-server-side-encryption-aws-kms-key-id"
	KeySignatureVersion = "s3:signatureversion"
	KeyAuthType         = "s3:authtype"
	KeyVersionID        = "s3:versionid"
	KeyCopySource       = "s3:x-amz-copy-source"
	KeyMetadataDir      = "s3:x-amz-metadata-directive"
	KeyStorageClass     = "s3:x-amz-storage-class"
	KeyContentSHA256    = "s3:x-amz-content-sha256"
	KeyTLSVersion       = "s3:tlsversion"
	KeyExistingTag      = "s3:existingobjecttag/"
	KeyRequestTag       = "s3:requestobjecttag/"
	KeyRequestTagKeys   = "s3:requestobjecttagkeys"
)

// KnownKeys are the condition keys a policy may use, besides the tag
// prefixes.
var KnownKeys = map[string]bool{
	KeySourceIP: true, KeySecureTransport: true, KeyCurrentTime: true, KeyEpochTime: true,
	KeyUsername: true, KeyUserID: true, KeyPrincipalAccount: true, KeyPrincipalArn: true,
	KeyPrincipalType: true, KeyReferer: true, KeyUserAgent: true,
	KeyPrefix: true, KeyDelimiter: true, KeyMaxKeys: true, KeyACL: true, KeySSE: true,
	KeySSEKMSKeyID: true, KeySignatureVersion: true, KeyAuthType: true, KeyVersionID: true,
	KeyCopySource: true, KeyMetadataDir: true, KeyStorageClass: true, KeyContentSHA256: true,
	KeyTLSVersion: true, KeyRequestTagKeys: true,
}

// TagKey is the context key of an object tag: prefix is KeyExistingTag or
// KeyRequestTag.
func TagKey(prefix, tag string) string { return prefix + tag }

// normalizeKey lower-cases a condition key (not the tag name of a tag
// key) and reports whether it is known.
func normalizeKey(k string) (string, bool) {
	svc, rest, _ := strings.Cut(k, "/")
	l := strings.ToLower(svc)
	switch l {
	case "s3:existingobjecttag", "s3:requestobjecttag":
		if rest == "" || !strings.Contains(k, "/") {
			return "", false
		}
		return l + "/" + rest, true
	}
	l = strings.ToLower(k)
	return l, KnownKeys[l]
}

// KnownActions are the S3 actions a policy may name (without "s3:").
var KnownActions = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range strings.Fields(`
AbortMultipartUpload BypassGovernanceRetention CreateBucket DeleteBucket
DeleteBucketOwnershipControls DeleteBucketPolicy DeleteBucketWebsite
DeleteObject DeleteObjectTagging DeleteObjectVersion DeleteObjectVersionTagging
GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAcl GetBucketCORS
GetBucketLocation GetBucketLogging GetBucketNotification GetBucketObjectLockConfiguration
GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus GetBucketPublicAccessBlock
GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite
GetEncryptionConfiguration GetLifecycleConfiguration GetObject GetObjectAcl
GetObjectAttributes GetObjectLegalHold GetObjectRetention GetObjectTagging
GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes GetObjectVersionTagging
GetReplicationConfiguration ListAllMyBuckets ListBucket ListBucketMultipartUploads
ListBucketVersions ListMultipartUploadParts PutAccelerateConfiguration PutBucketAcl
PutBucketCORS PutBucketLogging PutBucketNotification PutBucketObjectLockConfiguration
PutBucketOwnershipControls PutBucketPolicy PutBucketPublicAccessBlock
PutBucketRequestPayment PutBucketTagging PutBucketVersioning PutBucketWebsite
PutEncryptionConfiguration PutLifecycleConfiguration PutObject PutObjectAcl
PutObjectLegalHold PutObjectRetention PutObjectTagging PutObjectVersionAcl
PutObjectVersionTagging PutReplicationConfiguration RestoreObject
GetAccountPublicAccessBlock PutAccountPublicAccessBlock`) {
		m[a] = true
	}
	return m
}()
