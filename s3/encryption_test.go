package s3

import (
	"errors"
	"testing"
)

func TestParseEncryptionConfig(t *testing.T) {
	for _, tc := range []struct {
		body string
		mode string
		err  error
	}{
		{`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, "AES256", nil},
		{`<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`, "AES256", nil},
		{`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, "", errNotImplemented},
		{`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, "", errInvalidArgument},
		{`<ServerSideEncryptionConfiguration><Rule/><Rule/></ServerSideEncryptionConfiguration>`, "", errMalformedXML},
		{`<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>`, "", errMalformedXML},
		{`<ServerSideEncryptionConfiguration><Rule>`, "", errMalformedXML},
		{`<Other/>`, "", errMalformedXML},
		{``, "", errMalformedXML},
	} {
		mode, err := parseEncryptionConfig([]byte(tc.body))
		if mode != tc.mode || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%q: %q %v, want %q %v", tc.body, mode, err, tc.mode, tc.err)
		}
	}
}

func FuzzParseEncryptionConfig(f *testing.F) {
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`))
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule/></ServerSideEncryptionConfiguration>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		mode, err := parseEncryptionConfig(b)
		if err == nil && mode != "AES256" {
			t.Fatalf("accepted mode %q", mode)
		}
		if err != nil && mode != "" {
			t.Fatalf("mode %q with error %v", mode, err)
		}
		if _, known := lookupError(err); err != nil && !known {
			t.Fatalf("error outside the table: %v", err)
		}
	})
}
