package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

// This file serves ?lifecycle (Put/Get/DeleteBucketLifecycleConfiguration)
// and the x-amz-expiration header. It parses and validates the XML the way
// S3 does (MalformedXML for what breaks the schema, InvalidArgument and
// InvalidRequest for rules S3 refuses); the Engine checks what only it
// knows (a tier serves every transition's storage class) and stores the
// configuration. The rules run in the lifecycle engine (node).

// errNoSuchLifecycle: the bucket has no lifecycle configuration.
var errNoSuchLifecycle = errors.New("s3: no lifecycle configuration")

// Limits of a lifecycle configuration.
const (
	maxLifecycleRuleID = 255
	// maxLifecycleDays bounds Days fields so due dates stay representable
	// (S3 accepts any positive int32; 100 years is past any real rule).
	maxLifecycleDays = 36500
	// maxNewerNoncurrent is S3's bound of NewerNoncurrentVersions.
	maxNewerNoncurrent = 100
)

type lifecycleXML struct {
	XMLName xml.Name           `xml:"LifecycleConfiguration"`
	NS      string             `xml:"xmlns,attr,omitempty"`
	Rules   []lifecycleRuleXML `xml:"Rule"`
}

type lifecycleRuleXML struct {
	ID     *string             `xml:"ID"`
	Filter *lifecycleFilterXML `xml:"Filter"`
	// Prefix is the legacy top-level prefix (instead of Filter).
	Prefix                       *string                  `xml:"Prefix"`
	Status                       string                   `xml:"Status"`
	Transitions                  []transitionXML          `xml:"Transition"`
	Expiration                   *expirationXML           `xml:"Expiration"`
	NoncurrentVersionTransitions []noncurrentTransXML     `xml:"NoncurrentVersionTransition"`
	NoncurrentVersionExpiration  *noncurrentExpXML        `xml:"NoncurrentVersionExpiration"`
	AbortIncompleteMultipart     *abortIncompleteXML      `xml:"AbortIncompleteMultipartUpload"`
	Unknown                      []lifecycleUnknownXMLElt `xml:",any"`
}

// lifecycleUnknownXMLElt catches elements S3's schema does not have.
type lifecycleUnknownXMLElt struct {
	XMLName xml.Name
}

type lifecycleFilterXML struct {
	Prefix                *string          `xml:"Prefix"`
	Tag                   *tagXML          `xml:"Tag"`
	ObjectSizeGreaterThan *int64           `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64           `xml:"ObjectSizeLessThan"`
	And                   *lifecycleAndXML `xml:"And"`
}

type lifecycleAndXML struct {
	Prefix                *string  `xml:"Prefix"`
	Tags                  []tagXML `xml:"Tag"`
	ObjectSizeGreaterThan *int64   `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64   `xml:"ObjectSizeLessThan"`
}

type expirationXML struct {
	Days                      *int    `xml:"Days"`
	Date                      *string `xml:"Date"`
	ExpiredObjectDeleteMarker *bool   `xml:"ExpiredObjectDeleteMarker"`
}

type transitionXML struct {
	Days         *int    `xml:"Days"`
	Date         *string `xml:"Date"`
	StorageClass string  `xml:"StorageClass"`
}

type noncurrentTransXML struct {
	NoncurrentDays          *int   `xml:"NoncurrentDays"`
	NewerNoncurrentVersions *int   `xml:"NewerNoncurrentVersions"`
	StorageClass            string `xml:"StorageClass"`
}

type noncurrentExpXML struct {
	NoncurrentDays          *int `xml:"NoncurrentDays"`
	NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions"`
}

type abortIncompleteXML struct {
	DaysAfterInitiation *int `xml:"DaysAfterInitiation"`
}

// parseLifecycle parses and validates a PutBucketLifecycleConfiguration
// body.
func parseLifecycle(data []byte) (node.LifecycleConfig, error) {
	var in lifecycleXML
	if err := decodeXML(data, &in); err != nil {
		return node.LifecycleConfig{}, err
	}
	if len(in.Rules) == 0 {
		return node.LifecycleConfig{}, errMalformedXML
	}
	if len(in.Rules) > node.MaxLifecycleRules {
		return node.LifecycleConfig{}, withMessage(errInvalidArgument, "Lifecycle configuration should not have more than %d rules", node.MaxLifecycleRules)
	}
	out := node.LifecycleConfig{Rules: make([]node.LifecycleRule, 0, len(in.Rules))}
	ids := make(map[string]bool, len(in.Rules))
	for i := range in.Rules {
		r, err := parseLifecycleRule(&in.Rules[i])
		if err != nil {
			return node.LifecycleConfig{}, err
		}
		if r.ID != "" {
			if ids[r.ID] {
				return node.LifecycleConfig{}, withMessage(errInvalidArgument, "Rule ID must be unique. Found same ID for more than one rule")
			}
			ids[r.ID] = true
		}
		out.Rules = append(out.Rules, r)
	}
	return out, nil
}

func parseLifecycleRule(x *lifecycleRuleXML) (node.LifecycleRule, error) {
	var r node.LifecycleRule
	if len(x.Unknown) > 0 {
		return r, errMalformedXML
	}
	if x.ID != nil {
		r.ID = strings.TrimSpace(*x.ID)
		if len(r.ID) > maxLifecycleRuleID {
			return r, withMessage(errInvalidArgument, "ID length should not exceed allowed limit of %d", maxLifecycleRuleID)
		}
	}
	switch strings.TrimSpace(x.Status) {
	case "Enabled":
		r.Enabled = true
	case "Disabled":
	default:
		return r, errMalformedXML
	}
	switch {
	case x.Filter != nil && x.Prefix != nil:
		return r, errMalformedXML
	case x.Prefix != nil:
		r.LegacyPrefix = true
		r.Filter.Prefix = *x.Prefix
	case x.Filter != nil:
		f, err := parseLifecycleFilter(x.Filter)
		if err != nil {
			return r, err
		}
		r.Filter = f
	default:
		return r, errMalformedXML
	}
	if x.Expiration != nil {
		e, err := parseExpiration(x.Expiration)
		if err != nil {
			return r, err
		}
		if e.ExpiredObjectDeleteMarker && (len(r.Filter.Tags) > 0 || r.Filter.SizeGreaterThan > 0 || r.Filter.SizeLessThan > 0) {
			return r, withMessage(errInvalidArgument, "ExpiredObjectDeleteMarker cannot be specified with tags or object size filters")
		}
		r.Expiration = &e
	}
	for _, t := range x.Transitions {
		days, date, err := daysOrDate(t.Days, t.Date, "Transition")
		if err != nil {
			return r, err
		}
		class := strings.TrimSpace(t.StorageClass)
		if class == "" {
			return r, errMalformedXML
		}
		r.Transitions = append(r.Transitions, node.LifecycleTransition{Days: days, Date: date, StorageClass: class})
	}
	if x.NoncurrentVersionExpiration != nil {
		days, newer, err := noncurrentFields(x.NoncurrentVersionExpiration.NoncurrentDays, x.NoncurrentVersionExpiration.NewerNoncurrentVersions, "NoncurrentVersionExpiration")
		if err != nil {
			return r, err
		}
		r.NoncurrentExpiration = &node.NoncurrentExpiration{NoncurrentDays: days, NewerNoncurrentVersions: newer}
	}
	for _, t := range x.NoncurrentVersionTransitions {
		days, newer, err := noncurrentFields(t.NoncurrentDays, t.NewerNoncurrentVersions, "NoncurrentVersionTransition")
		if err != nil {
			return r, err
		}
		class := strings.TrimSpace(t.StorageClass)
		if class == "" {
			return r, errMalformedXML
		}
		r.NoncurrentTransitions = append(r.NoncurrentTransitions, node.NoncurrentTransition{NoncurrentDays: days, NewerNoncurrentVersions: newer, StorageClass: class})
	}
	if a := x.AbortIncompleteMultipart; a != nil {
		if a.DaysAfterInitiation == nil {
			return r, errMalformedXML
		}
		d := *a.DaysAfterInitiation
		if d <= 0 || d > maxLifecycleDays {
			return r, withMessage(errInvalidArgument, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
		}
		if len(r.Filter.Tags) > 0 || r.Filter.SizeGreaterThan > 0 || r.Filter.SizeLessThan > 0 {
			return r, withMessage(errInvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with tags or object size filters")
		}
		r.AbortUploadDays = d
	}
	if r.Expiration == nil && len(r.Transitions) == 0 && r.NoncurrentExpiration == nil && len(r.NoncurrentTransitions) == 0 && r.AbortUploadDays == 0 {
		return r, withMessage(errInvalidRequest, "At least one action needs to be specified in a rule")
	}
	// An expiration by days must come after every transition by days.
	if e := r.Expiration; e != nil && e.Days > 0 {
		for _, t := range r.Transitions {
			if t.Days > 0 && e.Days <= t.Days {
				return r, withMessage(errInvalidArgument, "'Days' in the Expiration action must be greater than 'Days' in the Transition action")
			}
		}
	}
	return r, nil
}

func parseLifecycleFilter(f *lifecycleFilterXML) (node.LifecycleFilter, error) {
	var out node.LifecycleFilter
	n := 0
	for _, set := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return out, errMalformedXML // one condition, or <And>
	}
	prefix, tags, gt, lt := f.Prefix, []tagXML(nil), f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
	if f.Tag != nil {
		tags = []tagXML{*f.Tag}
	}
	if a := f.And; a != nil {
		out.And = true
		prefix, tags, gt, lt = a.Prefix, a.Tags, a.ObjectSizeGreaterThan, a.ObjectSizeLessThan
	}
	if prefix != nil {
		out.Prefix = *prefix
	}
	if len(tags) > 0 {
		m, err := checkTags(tags, maxObjectTags, "Object")
		if err != nil {
			return out, err
		}
		out.Tags = m
	}
	if gt != nil {
		if *gt < 0 {
			return out, withMessage(errInvalidArgument, "'ObjectSizeGreaterThan' must be a non-negative integer")
		}
		out.SizeGreaterThan = *gt
	}
	if lt != nil {
		if *lt <= 0 {
			return out, withMessage(errInvalidArgument, "'ObjectSizeLessThan' must be a positive integer")
		}
		out.SizeLessThan = *lt
	}
	if gt != nil && lt != nil && *gt >= *lt {
		return out, withMessage(errInvalidArgument, "'ObjectSizeGreaterThan' must be less than 'ObjectSizeLessThan'")
	}
	return out, nil
}

func parseExpiration(x *expirationXML) (node.LifecycleExpiration, error) {
	var e node.LifecycleExpiration
	if x.ExpiredObjectDeleteMarker != nil {
		if x.Days != nil || x.Date != nil {
			return e, errMalformedXML // S3: one of Days, Date and ExpiredObjectDeleteMarker
		}
		if !*x.ExpiredObjectDeleteMarker {
			return e, withMessage(errInvalidArgument, "ExpiredObjectDeleteMarker must be true when specified")
		}
		e.ExpiredObjectDeleteMarker = true
		return e, nil
	}
	days, date, err := daysOrDate(x.Days, x.Date, "Expiration")
	if err != nil {
		return e, err
	}
	e.Days, e.Date = days, date
	return e, nil
}

// daysOrDate reads the exactly-one-of Days and Date of an action.
func daysOrDate(days *int, date *string, action string) (int, time.Time, error) {
	switch {
	case days != nil && date != nil, days == nil && date == nil:
		return 0, time.Time{}, withMessage(errMalformedXML, "%s must specify exactly one of Days and Date", action)
	case days != nil:
		if *days <= 0 || *days > maxLifecycleDays {
			return 0, time.Time{}, withMessage(errInvalidArgument, "'Days' for %s action must be a positive integer", action)
		}
		return *days, time.Time{}, nil
	}
	t, err := parseLifecycleDate(*date)
	if err != nil {
		return 0, time.Time{}, err
	}
	return 0, t, nil
}

// parseLifecycleDate reads an ISO 8601 date, which must be midnight UTC.
func parseLifecycleDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, withMessage(errInvalidArgument, "'Date' must be in ISO 8601 format")
	}
	t = t.UTC()
	if !t.Equal(t.Truncate(24*time.Hour)) || t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, withMessage(errInvalidArgument, "'Date' must be at midnight GMT")
	}
	return t, nil
}

func noncurrentFields(days, newer *int, action string) (int, int, error) {
	if days == nil {
		return 0, 0, errMalformedXML
	}
	if *days <= 0 || *days > maxLifecycleDays {
		return 0, 0, withMessage(errInvalidArgument, "'NoncurrentDays' for %s action must be a positive integer", action)
	}
	n := 0
	if newer != nil {
		if *newer <= 0 || *newer > maxNewerNoncurrent {
			return 0, 0, withMessage(errInvalidArgument, "'NewerNoncurrentVersions' for %s action must be between 1 and %d", action, maxNewerNoncurrent)
		}
		n = *newer
	}
	return *days, n, nil
}

// lifecycleToXML is the GET form of a stored configuration.
func lifecycleToXML(cfg node.LifecycleConfig) lifecycleXML {
	out := lifecycleXML{NS: s3NS}
	for _, r := range cfg.Rules {
		x := lifecycleRuleXML{Status: "Disabled"}
		if r.Enabled {
			x.Status = "Enabled"
		}
		if r.ID != "" {
			x.ID = ptr(r.ID)
		}
		if r.LegacyPrefix {
			x.Prefix = ptr(r.Filter.Prefix)
		} else {
			x.Filter = filterToXML(r.Filter)
		}
		if e := r.Expiration; e != nil {
			ex := &expirationXML{}
			switch {
			case e.ExpiredObjectDeleteMarker:
				ex.ExpiredObjectDeleteMarker = ptr(true)
			case e.Days > 0:
				ex.Days = ptr(e.Days)
			default:
				ex.Date = ptr(e.Date.UTC().Format(timeISO))
			}
			x.Expiration = ex
		}
		for _, t := range r.Transitions {
			tx := transitionXML{StorageClass: t.StorageClass}
			if t.Days > 0 {
				tx.Days = ptr(t.Days)
			} else {
				tx.Date = ptr(t.Date.UTC().Format(timeISO))
			}
			x.Transitions = append(x.Transitions, tx)
		}
		if n := r.NoncurrentExpiration; n != nil {
			x.NoncurrentVersionExpiration = &noncurrentExpXML{NoncurrentDays: ptr(n.NoncurrentDays)}
			if n.NewerNoncurrentVersions > 0 {
				x.NoncurrentVersionExpiration.NewerNoncurrentVersions = ptr(n.NewerNoncurrentVersions)
			}
		}
		for _, t := range r.NoncurrentTransitions {
			tx := noncurrentTransXML{NoncurrentDays: ptr(t.NoncurrentDays), StorageClass: t.StorageClass}
			if t.NewerNoncurrentVersions > 0 {
				tx.NewerNoncurrentVersions = ptr(t.NewerNoncurrentVersions)
			}
			x.NoncurrentVersionTransitions = append(x.NoncurrentVersionTransitions, tx)
		}
		if r.AbortUploadDays > 0 {
			x.AbortIncompleteMultipart = &abortIncompleteXML{DaysAfterInitiation: ptr(r.AbortUploadDays)}
		}
		out.Rules = append(out.Rules, x)
	}
	return out
}

func filterToXML(f node.LifecycleFilter) *lifecycleFilterXML {
	var tags []tagXML
	for k, v := range f.Tags {
		tags = append(tags, tagXML{Key: k, Value: v})
	}
	sortTags(tags)
	var gt, lt *int64
	if f.SizeGreaterThan > 0 {
		gt = ptr(f.SizeGreaterThan)
	}
	if f.SizeLessThan > 0 {
		lt = ptr(f.SizeLessThan)
	}
	if f.And {
		a := &lifecycleAndXML{Tags: tags, ObjectSizeGreaterThan: gt, ObjectSizeLessThan: lt}
		if f.Prefix != "" {
			a.Prefix = ptr(f.Prefix)
		}
		return &lifecycleFilterXML{And: a}
	}
	out := &lifecycleFilterXML{ObjectSizeGreaterThan: gt, ObjectSizeLessThan: lt}
	switch {
	case len(tags) == 1:
		out.Tag = &tags[0]
	case gt == nil && lt == nil:
		out.Prefix = ptr(f.Prefix)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func sortTags(tags []tagXML) {
	for i := 1; i < len(tags); i++ {
		for j := i; j > 0 && tags[j].Key < tags[j-1].Key; j-- {
			tags[j], tags[j-1] = tags[j-1], tags[j]
		}
	}
}

func (s *Server) getBucketLifecycle(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	cfg, err := s.eng.LifecycleConfiguration(ctx, rc.tenant, rc.ep.Container)
	if errors.Is(err, node.ErrNoSuchLifecycle) {
		return errNoSuchLifecycle
	}
	if err != nil {
		return err
	}
	return writeXML(w, lifecycleToXML(cfg))
}

func (s *Server) putBucketLifecycle(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	cfg, err := parseLifecycle(data)
	if err != nil {
		return err
	}
	if err := s.eng.SetLifecycleConfiguration(ctx, rc.tenant, rc.ep.Container, cfg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucketLifecycle(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.DeleteLifecycleConfiguration(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// expirationHeader is the x-amz-expiration value of an artifact a rule
// will expire.
func expirationHeader(e *node.Expiration) string {
	return fmt.Sprintf("expiry-date=%q, rule-id=%q", e.Date.UTC().Format(http.TimeFormat), e.RuleID)
}
