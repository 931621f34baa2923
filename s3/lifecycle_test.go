package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

func lcDoc(rules ...string) string {
	return "<LifecycleConfiguration>" + strings.Join(rules, "") + "</LifecycleConfiguration>"
}

func TestParseLifecycle(t *testing.T) {
	date := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		doc  string
		want []node.LifecycleRule // nil when an error is expected
		err  error
		msg  string // part of the client message
	}{
		{"expiration days", lcDoc(`<Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>`),
			[]node.LifecycleRule{{ID: "a", Enabled: true, Filter: node.LifecycleFilter{Prefix: "logs/"}, Expiration: &node.LifecycleExpiration{Days: 3}}}, nil, ""},
		{"expiration date", lcDoc(`<Rule><Filter/><Status>Disabled</Status><Expiration><Date>2030-01-02T00:00:00Z</Date></Expiration></Rule>`),
			[]node.LifecycleRule{{Expiration: &node.LifecycleExpiration{Date: date}}}, nil, ""},
		{"legacy prefix", lcDoc(`<Rule><Prefix>p</Prefix><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`),
			[]node.LifecycleRule{{Enabled: true, LegacyPrefix: true, Filter: node.LifecycleFilter{Prefix: "p"}, Expiration: &node.LifecycleExpiration{ExpiredObjectDeleteMarker: true}}}, nil, ""},
		{"tag filter", lcDoc(`<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]node.LifecycleRule{{Enabled: true, Filter: node.LifecycleFilter{Tags: map[string]string{"k": "v"}}, Expiration: &node.LifecycleExpiration{Days: 1}}}, nil, ""},
		{"and filter", lcDoc(`<Rule><Filter><And><Prefix>x</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>`),
			[]node.LifecycleRule{{Enabled: true, Filter: node.LifecycleFilter{And: true, Prefix: "x", Tags: map[string]string{"a": "1", "b": "2"}, SizeGreaterThan: 10, SizeLessThan: 100}, NoncurrentExpiration: &node.NoncurrentExpiration{NoncurrentDays: 5, NewerNoncurrentVersions: 2}}}, nil, ""},
		{"size filter", lcDoc(`<Rule><Filter><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]node.LifecycleRule{{Enabled: true, Filter: node.LifecycleFilter{SizeGreaterThan: 5}, Expiration: &node.LifecycleExpiration{Days: 1}}}, nil, ""},
		{"abort and transitions", lcDoc(`<Rule><ID>t</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Transition><Days>10</Days><StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>20</Days></Expiration><NoncurrentVersionTransition><NoncurrentDays>3</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`),
			[]node.LifecycleRule{{ID: "t", Enabled: true, Transitions: []node.LifecycleTransition{{Days: 10, StorageClass: "GLACIER"}}, Expiration: &node.LifecycleExpiration{Days: 20}, NoncurrentTransitions: []node.NoncurrentTransition{{NoncurrentDays: 3, StorageClass: "GLACIER"}}, AbortUploadDays: 7}}, nil, ""},

		{"empty body", "", nil, errMalformedXML, ""},
		{"not xml", "<Lifecycle", nil, errMalformedXML, ""},
		{"no rules", lcDoc(), nil, errMalformedXML, ""},
		{"no filter nor prefix", lcDoc(`<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), nil, errMalformedXML, ""},
		{"filter and prefix", lcDoc(`<Rule><Prefix/><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), nil, errMalformedXML, ""},
		{"bad status", lcDoc(`<Rule><Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>`), nil, errMalformedXML, ""},
		{"days and date", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-02T00:00:00Z</Date></Expiration></Rule>`), nil, errMalformedXML, "exactly one of Days and Date"},
		{"transition days and date", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days><Date>2030-01-02T00:00:00Z</Date><StorageClass>GLACIER</StorageClass></Transition></Rule>`), nil, errMalformedXML, ""},
		{"date not midnight", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Date>2030-01-02T10:00:00Z</Date></Expiration></Rule>`), nil, errInvalidArgument, "midnight"},
		{"bad date", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Date>tomorrow</Date></Expiration></Rule>`), nil, errInvalidArgument, "ISO 8601"},
		{"zero days", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>`), nil, errInvalidArgument, "positive"},
		{"days not a number", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration></Rule>`), nil, errMalformedXML, ""},
		{"marker with days", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`), nil, errMalformedXML, ""},
		{"marker with tag", lcDoc(`<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`), nil, errInvalidArgument, "tags"},
		{"no action", lcDoc(`<Rule><Filter/><Status>Enabled</Status></Rule>`), nil, errInvalidRequest, "At least one action"},
		{"duplicate id", lcDoc(`<Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, `<Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>`), nil, errInvalidArgument, "unique"},
		{"long id", lcDoc(`<Rule><ID>` + strings.Repeat("i", 256) + `</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), nil, errInvalidArgument, "ID length"},
		{"two filter conditions", lcDoc(`<Rule><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), nil, errMalformedXML, ""},
		{"sizes inverted", lcDoc(`<Rule><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), nil, errInvalidArgument, "less than"},
		{"abort with tag", lcDoc(`<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`), nil, errInvalidRequest, "AbortIncompleteMultipartUpload"},
		{"abort without days", lcDoc(`<Rule><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload></AbortIncompleteMultipartUpload></Rule>`), nil, errMalformedXML, ""},
		{"noncurrent without days", lcDoc(`<Rule><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>`), nil, errMalformedXML, ""},
		{"newer too many", lcDoc(`<Rule><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>`), nil, errInvalidArgument, "NewerNoncurrentVersions"},
		{"transition without class", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days></Transition></Rule>`), nil, errMalformedXML, ""},
		{"expiration before transition", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Transition><Days>10</Days><StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>10</Days></Expiration></Rule>`), nil, errInvalidArgument, "greater than"},
		{"unknown element", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration><Frobnicate/></Rule>`), nil, errMalformedXML, ""},
		{"trailing garbage", lcDoc(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`) + "<x/>", nil, errMalformedXML, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseLifecycle([]byte(tc.doc))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want a message with %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Rules, tc.want) {
				t.Fatalf("rules = %+v\nwant    %+v", cfg.Rules, tc.want)
			}
			// GET answers a document that parses back to the same rules.
			again := roundTripLifecycle(t, cfg)
			if !reflect.DeepEqual(again, cfg) {
				t.Fatalf("round trip = %+v\nwant         %+v", again, cfg)
			}
		})
	}
}

func TestParseLifecycleRuleCount(t *testing.T) {
	rule := func(i int) string {
		return fmt.Sprintf(`<Rule><ID>r%d</ID><Filter><Prefix>p%d/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, i, i)
	}
	var rules []string
	for i := range node.MaxLifecycleRules {
		rules = append(rules, rule(i))
	}
	if cfg, err := parseLifecycle([]byte(lcDoc(rules...))); err != nil || len(cfg.Rules) != node.MaxLifecycleRules {
		t.Fatalf("%d rules: %v", node.MaxLifecycleRules, err)
	}
	rules = append(rules, rule(node.MaxLifecycleRules))
	if _, err := parseLifecycle([]byte(lcDoc(rules...))); !errors.Is(err, errInvalidArgument) {
		t.Fatalf("%d rules: err = %v, want InvalidArgument", len(rules), err)
	}
}

func roundTripLifecycle(t testing.TB, cfg node.LifecycleConfig) node.LifecycleConfig {
	t.Helper()
	var buf bytes.Buffer
	if err := xml.NewEncoder(&buf).Encode(lifecycleToXML(cfg)); err != nil {
		t.Fatal(err)
	}
	again, err := parseLifecycle(buf.Bytes())
	if err != nil {
		t.Fatalf("the GET form does not parse: %v\n%s", err, buf.Bytes())
	}
	return again
}

func TestExpirationHeader(t *testing.T) {
	got := expirationHeader(&node.Expiration{Date: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), RuleID: "old logs"})
	want := `expiry-date="Wed, 02 Jan 2030 00:00:00 GMT", rule-id="old logs"`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// FuzzParseLifecycle: any body either fails with an S3 error of the
// table, or yields rules whose GET form parses back to the same rules.
func FuzzParseLifecycle(f *testing.F) {
	f.Add([]byte(lcDoc(`<Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>`)))
	f.Add([]byte(lcDoc(`<Rule><Filter><And><Prefix>x</Prefix><Tag><Key>a</Key><Value>1</Value></Tag></And></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays></NoncurrentVersionExpiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`)))
	f.Add([]byte(lcDoc(`<Rule><Prefix>p</Prefix><Status>Enabled</Status><Expiration><Date>2030-01-02T00:00:00.000Z</Date></Expiration></Rule>`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseLifecycle(data)
		if err != nil {
			if _, ok := lookupError(err); !ok {
				t.Fatalf("error outside the table: %v", err)
			}
			return
		}
		if len(cfg.Rules) == 0 || len(cfg.Rules) > node.MaxLifecycleRules {
			t.Fatalf("%d rules accepted", len(cfg.Rules))
		}
		if again := roundTripLifecycle(t, cfg); !reflect.DeepEqual(again, cfg) {
			t.Fatalf("round trip = %+v\nwant         %+v", again, cfg)
		}
	})
}
