package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node"
)

// This file serves versioning, object lock and tags: the bucket and object
// sub-resources ?versioning, ?versions, ?object-lock, ?tagging,
// ?retention, ?legal-hold, ?attributes, and the request headers that set
// them on writes. The rules (which state changes are allowed, what a
// retention may become, what a delete may remove) are the metastore's;
// this layer parses, validates the wire forms and maps the answers.

// Errors of this file (each in errorTable).
var (
	errNoSuchTagSet             = errors.New("s3: no tag set")
	errInvalidTag               = errors.New("s3: invalid tag")
	errLockConfigNotFound       = errors.New("s3: no object lock configuration")
	errNoSuchObjectLockConfig   = errors.New("s3: the version has no lock setting")
	errInvalidVersionID         = errors.New("s3: invalid version id")
	errObjectLockInvalidHeaders = errors.New("s3: invalid object lock headers")
)

// Tag limits, as S3 has them.
const (
	maxObjectTags   = 10
	maxBucketTags   = 50
	maxTagKeyLen    = 128 // Unicode characters
	maxTagValueLen  = 256
	maxTaggingBytes = 64 << 10
)

// versionRef reads the versionId query parameter of an object request.
func versionRef(r *http.Request, rc *reqCtx) (node.VersionRef, error) {
	ref := node.VersionRef{Container: rc.ep.Container, Key: rc.ep.Key}
	q := r.URL.Query()
	if q.Has("versionId") {
		v := q.Get("versionId")
		if v == "" {
			return ref, withMessage(errInvalidArgument, "Version id cannot be the empty string")
		}
		ref.VersionID = v
	}
	return ref, nil
}

// setVersionHeaders writes x-amz-version-id (and x-amz-delete-marker) the
// way S3 does: only for versions in a container with a versioning state.
func setVersionHeaders(h http.Header, versioned bool, id string, marker bool) {
	if !versioned {
		return
	}
	if id == "" {
		id = node.NullVersion
	}
	h.Set("X-Amz-Version-Id", id)
	if marker {
		h.Set("X-Amz-Delete-Marker", "true")
	}
}

// deleteMarkerHeaders reports a delete marker a read found, then returns
// the error to answer with (404 NoSuchKey, or 405 when addressed by id).
func deleteMarkerHeaders(h http.Header, err error) error {
	var dm *node.DeleteMarkerError
	if errors.As(err, &dm) {
		setVersionHeaders(h, true, dm.VersionID, true)
		h.Set("Last-Modified", dm.Modified.UTC().Format(http.TimeFormat))
		if errors.Is(err, node.ErrDeleteMarker) {
			return errMethodNotAllowed
		}
	}
	return err
}

// isTenantRoot reports whether the request was signed by its tenant's
// root user: the principal that may bypass a GOVERNANCE retention until
// bucket policies say otherwise.
func isTenantRoot(rc *reqCtx) bool { return isOwnerRoot(rc) }

// bypassGovernance reads x-amz-bypass-governance-retention. A principal
// that may not bypass is treated as not asking: the lock then refuses.
func bypassGovernance(r *http.Request, rc *reqCtx) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Amz-Bypass-Governance-Retention")), "true") && isTenantRoot(rc)
}

// --- versioning ---

type versioningConfigurationIn struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    *string  `xml:"Status"`
	MfaDelete *string  `xml:"MfaDelete"`
}

type versioningConfigurationOut struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	NS      string   `xml:"xmlns,attr"`
	Status  string   `xml:"Status,omitempty"`
}

// getBucketVersioning answers a never-versioned bucket with an empty
// configuration, as S3 does (tools such as rclone ask for it).
func (s *Server) getBucketVersioning(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	c, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	return writeXML(w, versioningConfigurationOut{NS: s3NS, Status: c.Versioning})
}

func (s *Server) putBucketVersioning(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	var cfg versioningConfigurationIn
	if err := decodeXML(data, &cfg); err != nil {
		return err
	}
	if cfg.MfaDelete != nil {
		switch strings.TrimSpace(*cfg.MfaDelete) {
		case "Disabled":
		case "Enabled":
			return withMessage(errNotImplemented, "MFA delete is not supported.")
		default:
			return errMalformedXML
		}
	}
	if cfg.Status == nil {
		// Only MfaDelete: nothing to change.
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	status := strings.TrimSpace(*cfg.Status)
	if status != node.VersioningEnabled && status != node.VersioningSuspended {
		return errMalformedXML
	}
	if err := s.eng.SetVersioning(ctx, rc.tenant, rc.ep.Container, status); err != nil {
		if errors.Is(err, node.ErrInvalidContainerState) {
			return withMessage(errInvalidBucketState, "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
		}
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// readConfigBody reads a small XML configuration body; needMD5 requires a
// Content-MD5 or x-amz-checksum (S3 does for object lock settings).
func (s *Server) readConfigBody(r *http.Request, rc *reqCtx, needMD5 bool) ([]byte, *body, error) {
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return nil, nil, err
	}
	if needMD5 && !b.hasChecksum {
		return nil, nil, withMessage(errInvalidRequest, "Missing required header for this request: Content-MD5")
	}
	data, err := readAllVerified(b, maxXMLBody)
	return data, b, err
}

// --- ListObjectVersions ---

type versionEntryXML struct {
	XMLName           xml.Name // Version or DeleteMarker
	Key               string   `xml:"Key"`
	VersionID         string   `xml:"VersionId"`
	IsLatest          bool     `xml:"IsLatest"`
	LastModified      string   `xml:"LastModified"`
	ETag              string   `xml:"ETag,omitempty"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string   `xml:"ChecksumType,omitempty"`
	Size              *int64   `xml:"Size,omitempty"`
	Owner             owner    `xml:"Owner"`
	StorageClass      string   `xml:"StorageClass,omitempty"`
}

type listVersionsResult struct {
	XMLName             xml.Name          `xml:"ListVersionsResult"`
	NS                  string            `xml:"xmlns,attr"`
	Name                string            `xml:"Name"`
	Prefix              string            `xml:"Prefix"`
	KeyMarker           string            `xml:"KeyMarker"`
	VersionIDMarker     string            `xml:"VersionIdMarker"`
	NextKeyMarker       string            `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string            `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int               `xml:"MaxKeys"`
	Delimiter           string            `xml:"Delimiter,omitempty"`
	EncodingType        string            `xml:"EncodingType,omitempty"`
	IsTruncated         bool              `xml:"IsTruncated"`
	Entries             []versionEntryXML `xml:",any"`
	CommonPrefixes      []commonPrefix    `xml:"CommonPrefixes"`
}

func (s *Server) listObjectVersions(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	enc, err := encodingType(q)
	if err != nil {
		return err
	}
	max, err := intParam(q, "max-keys", maxListKeys, maxListKeys)
	if err != nil {
		return err
	}
	opts := node.VersionListOptions{
		Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), VersionIDMarker: q.Get("version-id-marker"), MaxKeys: max,
	}
	if opts.VersionIDMarker != "" && opts.KeyMarker == "" {
		return withMessage(errInvalidArgument, "A version-id marker cannot be specified without a key marker.")
	}
	res := listVersionsResult{
		NS: s3NS, Name: rc.ep.Container, Prefix: enc(opts.Prefix), KeyMarker: enc(opts.KeyMarker),
		VersionIDMarker: opts.VersionIDMarker, MaxKeys: max, Delimiter: enc(opts.Delimiter),
		EncodingType: q.Get("encoding-type"),
	}
	if max == 0 {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
		return writeXML(w, res)
	}
	vl, err := s.eng.ListVersions(ctx, rc.tenant, rc.ep.Container, opts)
	if err != nil {
		if errors.Is(err, node.ErrInvalidArgument) {
			return withMessage(errInvalidArgument, "Invalid version id specified")
		}
		return err
	}
	ownerACLs := 0 // the bucket's ownership, read at need (ownerOf)
	for _, v := range vl.Versions {
		id := v.VersionID
		if id == "" {
			id = node.NullVersion
		}
		e := versionEntryXML{Key: enc(v.Key), VersionID: id, IsLatest: v.IsLatest,
			LastModified: isoTime(v.Modified), Owner: s.ownerOf(r, rc, v.Owner, &ownerACLs)}
		if v.DeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			e.XMLName.Local = "Version"
			e.ETag = quoteETag(v.ETag)
			size := v.Size
			e.Size = &size
			e.StorageClass = storageClassOf(v.StorageClass)
			for _, alg := range checksum.Algorithms {
				if _, ok := v.Checksums[alg.Name]; ok {
					e.ChecksumAlgorithm = append(e.ChecksumAlgorithm, alg.Name)
					e.ChecksumType = checksumTypeOf(v)
				}
			}
		}
		res.Entries = append(res.Entries, e)
	}
	for _, p := range vl.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	res.IsTruncated = vl.Truncated
	if vl.Truncated {
		res.NextKeyMarker, res.NextVersionIDMarker = enc(vl.NextKeyMarker), vl.NextVersionIDMarker
	}
	return writeXML(w, res)
}

// checksumTypeOf is the checksum type S3 reports for an artifact's
// whole-object checksum.
func checksumTypeOf(info node.ArtifactInfo) string {
	if info.ChecksumType != "" {
		return info.ChecksumType
	}
	return "FULL_OBJECT"
}

// --- object lock configuration ---

type defaultRetentionXML struct {
	Mode  string `xml:"Mode,omitempty"`
	Days  *int   `xml:"Days,omitempty"`
	Years *int   `xml:"Years,omitempty"`
}

type objectLockConfigurationXML struct {
	XMLName           xml.Name `xml:"ObjectLockConfiguration"`
	NS                string   `xml:"xmlns,attr,omitempty"`
	ObjectLockEnabled string   `xml:"ObjectLockEnabled,omitempty"`
	Rule              *struct {
		DefaultRetention *defaultRetentionXML `xml:"DefaultRetention"`
	} `xml:"Rule,omitempty"`
}

func (s *Server) getObjectLockConfiguration(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	c, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	if !c.ObjectLock.Enabled {
		return errLockConfigNotFound
	}
	out := objectLockConfigurationXML{NS: s3NS, ObjectLockEnabled: "Enabled"}
	if ol := c.ObjectLock; ol.Mode != "" {
		dr := &defaultRetentionXML{Mode: ol.Mode}
		if ol.Days > 0 {
			dr.Days = &ol.Days
		} else {
			dr.Years = &ol.Years
		}
		out.Rule = &struct {
			DefaultRetention *defaultRetentionXML `xml:"DefaultRetention"`
		}{dr}
	}
	return writeXML(w, out)
}

func (s *Server) putObjectLockConfiguration(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, true)
	if err != nil {
		return err
	}
	var in objectLockConfigurationXML
	if err := decodeXML(data, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.ObjectLockEnabled) != "Enabled" {
		return errMalformedXML
	}
	cfg := node.ObjectLockConfig{Enabled: true}
	if in.Rule != nil {
		dr := in.Rule.DefaultRetention
		if dr == nil {
			return errMalformedXML
		}
		cfg.Mode = strings.TrimSpace(dr.Mode)
		if cfg.Mode != node.LockGovernance && cfg.Mode != node.LockCompliance {
			return errMalformedXML
		}
		switch {
		case dr.Days != nil && dr.Years != nil:
			return errMalformedXML
		case dr.Days != nil:
			cfg.Days = *dr.Days
		case dr.Years != nil:
			cfg.Years = *dr.Years
		default:
			return errMalformedXML
		}
		if cfg.Days < 0 || cfg.Years < 0 || cfg.Days == 0 && cfg.Years == 0 {
			return withMessage(errInvalidArgument, "Default retention period must be a positive integer value.")
		}
		if cfg.Days > 36500 || cfg.Years > 100 {
			return withMessage(errInvalidArgument, "Default retention period is too large.")
		}
	}
	if err := s.eng.SetObjectLock(ctx, rc.tenant, rc.ep.Container, cfg); err != nil {
		if errors.Is(err, node.ErrInvalidContainerState) {
			return withMessage(errInvalidBucketState, "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
		}
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// --- retention and legal hold ---

type retentionXML struct {
	XMLName         xml.Name `xml:"Retention"`
	NS              string   `xml:"xmlns,attr,omitempty"`
	Mode            string   `xml:"Mode,omitempty"`
	RetainUntilDate string   `xml:"RetainUntilDate,omitempty"`
}

type legalHoldXML struct {
	XMLName xml.Name `xml:"LegalHold"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status"`
}

// parseRetainUntil parses a retain-until date as S3 accepts it (ISO 8601
// with or without fractional seconds).
func parseRetainUntil(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, withMessage(errInvalidArgument, "The retain until date must be an ISO 8601 date and time.")
}

func (s *Server) getObjectRetention(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	info, err := s.headVersion(ctx, w, r, rc)
	if err != nil {
		return err
	}
	if info.Retention.Mode == "" {
		return errNoSuchObjectLockConfig
	}
	return writeXML(w, retentionXML{NS: s3NS, Mode: info.Retention.Mode, RetainUntilDate: info.Retention.Until.UTC().Format(timeISO)})
}

func (s *Server) putObjectRetention(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	data, _, err := s.readConfigBody(r, rc, true)
	if err != nil {
		return err
	}
	var in retentionXML
	if err := decodeXML(data, &in); err != nil {
		return err
	}
	var ret node.Retention
	mode, until := strings.TrimSpace(in.Mode), strings.TrimSpace(in.RetainUntilDate)
	switch {
	case mode == "" && until == "":
		// Removes the retention (only GOVERNANCE with bypass, or expired).
	case mode != node.LockGovernance && mode != node.LockCompliance, until == "":
		return errMalformedXML
	default:
		t, err := parseRetainUntil(until)
		if err != nil {
			return err
		}
		if !t.After(s.cfg.Now()) {
			return withMessage(errInvalidArgument, "The retain until date must be in the future!")
		}
		ret = node.Retention{Mode: mode, Until: t}
	}
	info, err := s.eng.SetRetention(ctx, rc.tenant, ref, ret, bypassGovernance(r, rc))
	if err != nil {
		return s.versionWriteError(w, err)
	}
	setVersionHeaders(w.Header(), info.Versioned, info.VersionID, false)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObjectLegalHold(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	info, err := s.headVersion(ctx, w, r, rc)
	if err != nil {
		return err
	}
	c, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	if !c.ObjectLock.Enabled {
		return withMessage(errInvalidRequest, "Bucket is missing Object Lock Configuration")
	}
	status := "OFF"
	if info.LegalHold {
		status = "ON"
	}
	return writeXML(w, legalHoldXML{NS: s3NS, Status: status})
}

func (s *Server) putObjectLegalHold(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	data, _, err := s.readConfigBody(r, rc, true)
	if err != nil {
		return err
	}
	var in legalHoldXML
	if err := decodeXML(data, &in); err != nil {
		return err
	}
	var on bool
	switch strings.TrimSpace(in.Status) {
	case "ON":
		on = true
	case "OFF":
	default:
		return errMalformedXML
	}
	info, err := s.eng.SetLegalHold(ctx, rc.tenant, ref, on)
	if err != nil {
		return s.versionWriteError(w, err)
	}
	setVersionHeaders(w.Header(), info.Versioned, info.VersionID, false)
	w.WriteHeader(http.StatusOK)
	return nil
}

// versionWriteError maps the errors of a change to one version's settings.
func (s *Server) versionWriteError(w http.ResponseWriter, err error) error {
	if errors.Is(err, node.ErrDeleteMarker) {
		w.Header().Set("X-Amz-Delete-Marker", "true")
		return errMethodNotAllowed
	}
	if errors.Is(err, node.ErrInvalidArgument) {
		return withMessage(errInvalidArgument, "Invalid version id specified")
	}
	return err
}

// headVersion reads the version an object sub-resource request names,
// reporting delete markers as S3 does.
func (s *Server) headVersion(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) (node.ArtifactInfo, error) {
	ref, err := versionRef(r, rc)
	if err != nil {
		return node.ArtifactInfo{}, err
	}
	info, err := s.eng.HeadArtifact(ctx, rc.tenant, ref)
	if err != nil {
		if errors.Is(err, node.ErrInvalidArgument) {
			return info, withMessage(errInvalidArgument, "Invalid version id specified")
		}
		return info, deleteMarkerHeaders(w.Header(), err)
	}
	setVersionHeaders(w.Header(), info.Versioned, info.VersionID, false)
	return info, nil
}

// lockHeaders reads the object lock headers of a write (PUT, copy,
// CreateMultipartUpload): mode and retain-until come together.
func lockHeaders(h http.Header, now time.Time) (node.Retention, bool, bool, error) {
	mode := strings.TrimSpace(h.Get("X-Amz-Object-Lock-Mode"))
	until := strings.TrimSpace(h.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	hold := strings.TrimSpace(h.Get("X-Amz-Object-Lock-Legal-Hold"))
	var r node.Retention
	any := mode != "" || until != "" || hold != ""
	if (mode == "") != (until == "") {
		return r, false, any, withMessage(errObjectLockInvalidHeaders, "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	}
	if mode != "" {
		if mode != node.LockGovernance && mode != node.LockCompliance {
			return r, false, any, withMessage(errInvalidArgument, "Unknown wormMode directive.")
		}
		t, err := parseRetainUntil(until)
		if err != nil {
			return r, false, any, err
		}
		if !t.After(now) {
			return r, false, any, withMessage(errInvalidArgument, "The retain until date must be in the future!")
		}
		r = node.Retention{Mode: mode, Until: t}
	}
	var on bool
	switch hold {
	case "":
	case "ON":
		on = true
	case "OFF":
	default:
		return r, false, any, withMessage(errInvalidArgument, "Legal Hold must be either of 'ON' or 'OFF'")
	}
	return r, on, any, nil
}

// --- tags ---

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type taggingXML struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  struct {
		Tags []tagXML `xml:"Tag"`
	} `xml:"TagSet"`
}

// validTagText reports whether s uses only what S3 allows in tags:
// letters, digits, spaces and + - = . _ : / @.
func validTagText(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsSpace(r):
		case strings.ContainsRune("+-=._:/@", r):
		default:
			return false
		}
	}
	return true
}

// checkTags validates a tag set against S3's rules.
func checkTags(tags []tagXML, max int, what string) (map[string]string, error) {
	if len(tags) > max {
		return nil, withMessage(errInvalidTag, "%s tags cannot be greater than %d", what, max)
	}
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return nil, withMessage(errInvalidTag, "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return nil, withMessage(errInvalidTag, "The TagValue you have provided is invalid")
		case !utf8.ValidString(t.Key) || !utf8.ValidString(t.Value) || !validTagText(t.Key) || !validTagText(t.Value):
			return nil, withMessage(errInvalidTag, "The TagKey you have provided is invalid")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return nil, withMessage(errInvalidTag, "Your TagKey cannot be prefixed with aws:")
		}
		if _, dup := out[t.Key]; dup {
			return nil, withMessage(errInvalidTag, "Cannot provide multiple Tags with the same key")
		}
		out[t.Key] = t.Value
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// parseTaggingHeader reads x-amz-tagging (a URL query string).
func parseTaggingHeader(v string) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	if len(v) > maxTaggingBytes {
		return nil, withMessage(errInvalidTag, "The tag set is too large.")
	}
	var tags []tagXML
	for _, pair := range strings.Split(v, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			return nil, withMessage(errInvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		tags = append(tags, tagXML{Key: dk, Value: dv})
	}
	return checkTags(tags, maxObjectTags, "Object")
}

func readTagging(data []byte, max int, what string) (map[string]string, error) {
	var in taggingXML
	if err := decodeXML(data, &in); err != nil {
		return nil, err
	}
	return checkTags(in.TagSet.Tags, max, what)
}

func writeTagging(w http.ResponseWriter, tags map[string]string) error {
	out := taggingXML{NS: s3NS}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.TagSet.Tags = append(out.TagSet.Tags, tagXML{Key: k, Value: tags[k]})
	}
	return writeXML(w, out)
}

func (s *Server) getBucketTagging(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	c, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	if len(c.Tags) == 0 {
		return errNoSuchTagSet
	}
	return writeTagging(w, c.Tags)
}

func (s *Server) putBucketTagging(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	tags, err := readTagging(data, maxBucketTags, "Bucket")
	if err != nil {
		return err
	}
	if err := s.eng.SetContainerTags(ctx, rc.tenant, rc.ep.Container, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteBucketTagging(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.SetContainerTags(ctx, rc.tenant, rc.ep.Container, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getObjectTagging(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	info, err := s.headVersion(ctx, w, r, rc)
	if err != nil {
		return err
	}
	return writeTagging(w, info.Tags)
}

func (s *Server) putObjectTagging(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	tags, err := readTagging(data, maxObjectTags, "Object")
	if err != nil {
		return err
	}
	return s.setObjectTags(ctx, w, rc, ref, tags, http.StatusOK)
}

func (s *Server) deleteObjectTagging(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	return s.setObjectTags(ctx, w, rc, ref, nil, http.StatusNoContent)
}

func (s *Server) setObjectTags(ctx context.Context, w http.ResponseWriter, rc *reqCtx, ref node.VersionRef, tags map[string]string, status int) error {
	info, err := s.eng.SetArtifactTags(ctx, rc.tenant, ref, tags)
	if err != nil {
		if errors.Is(err, node.ErrArtifactNotFound) || errors.Is(err, node.ErrNoSuchVersion) {
			return err
		}
		return s.versionWriteError(w, err)
	}
	setVersionHeaders(w.Header(), info.Versioned, info.VersionID, false)
	w.WriteHeader(status)
	return nil
}

// --- GetObjectAttributes ---

type checksumXML struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

func checksumsXML(sums map[string]string, typ string) *checksumXML {
	if len(sums) == 0 {
		return nil
	}
	return &checksumXML{ChecksumCRC32: sums["CRC32"], ChecksumCRC32C: sums["CRC32C"], ChecksumCRC64NVME: sums["CRC64NVME"],
		ChecksumSHA1: sums["SHA1"], ChecksumSHA256: sums["SHA256"], ChecksumType: typ}
}

type attributePartXML struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
	checksumXML
}

type objectPartsXML struct {
	IsTruncated          bool               `xml:"IsTruncated"`
	MaxParts             int                `xml:"MaxParts"`
	NextPartNumberMarker int                `xml:"NextPartNumberMarker"`
	PartNumberMarker     int                `xml:"PartNumberMarker"`
	Parts                []attributePartXML `xml:"Part"`
	PartsCount           int                `xml:"PartsCount"`
}

type getObjectAttributesResult struct {
	XMLName      xml.Name        `xml:"GetObjectAttributesResponse"`
	NS           string          `xml:"xmlns,attr"`
	ETag         string          `xml:"ETag,omitempty"`
	Checksum     *checksumXML    `xml:"Checksum,omitempty"`
	ObjectParts  *objectPartsXML `xml:"ObjectParts,omitempty"`
	StorageClass string          `xml:"StorageClass,omitempty"`
	ObjectSize   *int64          `xml:"ObjectSize,omitempty"`
}

func (s *Server) getObjectAttributes(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	want := map[string]bool{}
	for _, v := range r.Header.Values("X-Amz-Object-Attributes") {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			switch a {
			case "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize":
				want[a] = true
			case "":
			default:
				return withMessage(errInvalidArgument, "Invalid attribute name specified.")
			}
		}
	}
	if len(want) == 0 {
		return withMessage(errInvalidRequest, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	maxParts, err := headerInt(r.Header, "X-Amz-Max-Parts", maxListParts)
	if err != nil {
		return err
	}
	marker, err := headerInt(r.Header, "X-Amz-Part-Number-Marker", 0)
	if err != nil {
		return err
	}
	info, err := s.headVersion(ctx, w, r, rc)
	if err != nil {
		return err
	}
	w.Header().Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	out := getObjectAttributesResult{NS: s3NS}
	if want["ETag"] {
		out.ETag = info.ETag
	}
	if want["Checksum"] {
		out.Checksum = checksumsXML(info.Checksums, checksumTypeOf(info))
	}
	if want["StorageClass"] {
		out.StorageClass = storageClassOf(info.StorageClass)
	}
	if want["ObjectSize"] {
		size := info.Size
		out.ObjectSize = &size
	}
	if want["ObjectParts"] && info.Parts > 0 {
		op := &objectPartsXML{MaxParts: maxParts, PartNumberMarker: marker, PartsCount: info.Parts}
		for _, p := range info.PartList {
			if p.Number <= marker {
				continue
			}
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			part := attributePartXML{PartNumber: p.Number, Size: p.Size}
			if c := checksumsXML(p.Checksums, ""); c != nil {
				part.checksumXML = *c
			}
			op.Parts = append(op.Parts, part)
			op.NextPartNumberMarker = p.Number
		}
		out.ObjectParts = op
	}
	return writeXML(w, out)
}

// headerInt parses an optional non-negative integer header.
func headerInt(h http.Header, name string, def int) (int, error) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, withMessage(errInvalidArgument, "Invalid %s header.", name)
	}
	return n, nil
}
