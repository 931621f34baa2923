package s3

import "github.com/vaultaire/vaultaire/node"

// Bucket configuration documents validated outside a request: the web
// console sets lifecycle rules and CORS rules with the very parsers the
// S3 sub-resources use, so a document the console accepts is one
// PutBucketLifecycleConfiguration or PutBucketCors would accept, and a
// refusal carries S3's code and message (ConfigError).

// ConfigError is a refused configuration document: S3's error code and
// message.
type ConfigError struct{ Code, Message string }

func (e *ConfigError) Error() string { return e.Code + ": " + e.Message }

// S3Error is the code and message S3 would answer with.
func (e *ConfigError) S3Error() (code, message string) { return e.Code, e.Message }

func configError(err error) error {
	row, _ := lookupError(err)
	return &ConfigError{Code: row.code, Message: row.message}
}

// ParseLifecycleConfiguration parses and validates a lifecycle
// configuration (the XML body of PutBucketLifecycleConfiguration).
func ParseLifecycleConfiguration(doc []byte) (node.LifecycleConfig, error) {
	if len(doc) > maxXMLBody {
		return node.LifecycleConfig{}, configError(errMaxMessageLength)
	}
	cfg, err := parseLifecycle(doc)
	if err != nil {
		return node.LifecycleConfig{}, configError(err)
	}
	return cfg, nil
}

// ParseCORSConfiguration parses and validates CORS rules (the XML body of
// PutBucketCors) and returns them in the canonical form stored in the
// container's configuration.
func ParseCORSConfiguration(doc []byte) (string, error) {
	if len(doc) > corsMaxBody {
		return "", configError(errMaxMessageLength)
	}
	c, err := parseCORS(doc)
	if err != nil {
		return "", configError(err)
	}
	return c.encode(), nil
}

// CORSConfigName is the container configuration entry that holds a
// bucket's CORS rules.
const CORSConfigName = corsConfigName
