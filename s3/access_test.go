package s3

import "testing"

// Every operation is authorized as an IAM action: one without falls back
// to "the owner's tenant only", which would hide it from policies.
func TestEveryOperationHasAnAction(t *testing.T) {
	for op := Operation(1); int(op) < len(opNames); op++ {
		if op.String() == "PreflightRequest" {
			continue // unsigned CORS preflight: answered from the CORS rules
		}
		if _, ok := opActions[op]; !ok {
			t.Errorf("operation %s has no IAM action in opActions", op)
		}
	}
}

func TestSplitQualified(t *testing.T) {
	for _, c := range []struct {
		in, tenant, bucket string
		ok                 bool
	}{
		{"acme:photos", "acme", "photos", true},
		{"photos", "", "photos", false},
		{":photos", "", "photos", true},
		{"acme:", "acme", "", true},
	} {
		tn, b, ok := SplitQualified(c.in)
		if ok != c.ok || ok && (tn != c.tenant || b != c.bucket) {
			t.Errorf("%q: %q %q %v", c.in, tn, b, ok)
		}
	}
}
