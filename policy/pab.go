package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// PublicAccessBlock is S3's PublicAccessBlockConfiguration, kept for a
// bucket and for a tenant (the admin API sets the tenant's). Its JSON
// form, with these field names, is how both are stored.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"BlockPublicAcls"`
	IgnorePublicAcls      bool `json:"IgnorePublicAcls"`
	BlockPublicPolicy     bool `json:"BlockPublicPolicy"`
	RestrictPublicBuckets bool `json:"RestrictPublicBuckets"`
}

// ParsePublicAccessBlock decodes the stored JSON form; "" is the zero
// value (nothing blocked).
func ParsePublicAccessBlock(s string) (PublicAccessBlock, error) {
	var p PublicAccessBlock
	if s == "" {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%w: public access block: %s", ErrMalformed, jsonMsg(err))
	}
	return p, nil
}

// String is the stored JSON form.
func (p PublicAccessBlock) String() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// Or is the union of two blocks: what applies when a tenant and its
// bucket each have one.
func (p PublicAccessBlock) Or(q PublicAccessBlock) PublicAccessBlock {
	return PublicAccessBlock{
		BlockPublicAcls:       p.BlockPublicAcls || q.BlockPublicAcls,
		IgnorePublicAcls:      p.IgnorePublicAcls || q.IgnorePublicAcls,
		BlockPublicPolicy:     p.BlockPublicPolicy || q.BlockPublicPolicy,
		RestrictPublicBuckets: p.RestrictPublicBuckets || q.RestrictPublicBuckets,
	}
}
