package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
)

// A bucket's settings page: versioning, object lock, lifecycle, bucket
// policy, CORS and default encryption, read from and written to the same
// container records the S3 sub-resources use (?versioning, ?object-lock,
// ?lifecycle, ?policy, ?cors, ?encryption), so a setting made here is
// what S3 answers and enforces, and the reverse.
//
// What can be changed here, and how it is validated:
//   - versioning: enable or suspend (Engine.SetVersioning; the state
//     machine refuses suspending a locked bucket, as for S3);
//   - bucket policy: set and delete; a policy is checked by policy.Parse,
//     ResourcesWithin and the public access block, the S3 edge's path;
//   - default encryption: on (AES256, the one algorithm the S3 edge
//     accepts) or off;
//   - lifecycle and CORS: set (the S3 XML document) and deleted; a
//     document is validated by the S3 edge's own parsers, which
//     cmd/vaultaire hands in (Config.ParseLifecycle, Config.ParseCORS:
//     the console may not import s3).
//
// Object lock is shown only: it can only be enabled when a bucket is
// created, and its default retention is set through the S3 API.

// Container configuration entries the S3 edge owns (s3/access.go,
// s3/cors.go); the console reads and writes the same records.
const (
	cfgPolicy            = "policy"
	cfgPublicAccessBlock = "public-access-block"
	cfgCORS              = "cors"
)

// settingsView is the settings page's data.
type settingsView struct {
	Bucket   string
	Sections []settingsSection
	// Current values ("" when unset): Lifecycle is the configuration the
	// Engine stores, as indented JSON; Policy and CORS the stored
	// documents; Encryption the default mode.
	Versioning string
	Lock       node.ObjectLockConfig
	Lifecycle  string
	Policy     string
	CORS       string
	Encryption string
	// Error and Draft: a refused change's message and submitted value,
	// by setting.
	Error map[string]string
	Draft map[string]string
	// SetLifecycle and SetCORS: the rules can be set here (the server
	// handed in the S3 edge's parsers).
	SetLifecycle, SetCORS bool
}

func (s *Server) bucketSettings(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	return s.renderSettings(w, r, sess, name, http.StatusOK, "", "", "")
}

// renderSettings renders a bucket's settings page, with a refused
// change's message and draft for setting when msg is not "".
func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, sess *session, name string, status int, setting, msg, draft string) error {
	ctx := r.Context()
	tenant := sess.acct.Tenant
	info, err := s.eng.HeadContainer(ctx, tenant, name)
	if err != nil {
		return err
	}
	cq, err := s.eng.ContainerQuota(ctx, tenant, name)
	if err != nil {
		return err
	}
	v := settingsView{Bucket: name, Versioning: info.Versioning, Lock: info.ObjectLock,
		Error: map[string]string{}, Draft: map[string]string{}}
	v.Sections = []settingsSection{
		{Name: "General", Available: true, Rows: [][2]string{{"Name", name}, {"Created", info.Created.UTC().Format(time.RFC1123)}}},
		{Name: "Usage and quota", Available: true, Rows: [][2]string{
			{"Stored", humanBytes(cq.Usage.Bytes) + fmt.Sprintf(" in %d objects", cq.Usage.Artifacts)},
			{"Unfinished uploads", humanBytes(cq.Usage.UploadBytes)},
			{"Quota (bytes)", limitText(cq.Quota.MaxBytes, humanBytes)},
			{"Quota (objects)", limitText(cq.Quota.MaxArtifacts, func(n int64) string { return strconv.FormatInt(n, 10) })},
		}, Note: "Quotas are set by your operator."},
	}
	v.SetLifecycle, v.SetCORS = s.cfg.ParseLifecycle != nil, s.cfg.ParseCORS != nil
	lc, err := s.eng.LifecycleConfiguration(ctx, tenant, name)
	switch {
	case errors.Is(err, node.ErrNoSuchLifecycle):
	case err != nil:
		return err
	default:
		// Unescaped: html/template escapes it for the page.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lc); err != nil {
			return err
		}
		v.Lifecycle = buf.String()
	}
	for _, c := range []struct {
		name string
		dst  *string
	}{{cfgPolicy, &v.Policy}, {cfgCORS, &v.CORS}, {node.ContainerConfigEncryption, &v.Encryption}} {
		if *c.dst, err = s.eng.ContainerConfig(ctx, tenant, name, c.name); err != nil {
			return err
		}
	}
	if v.Policy != "" {
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(v.Policy), "", "  ") == nil {
			v.Policy = buf.String()
		}
	}
	if msg != "" {
		v.Error[setting], v.Draft[setting] = msg, draft
	}
	return s.render(w, r, status, "settings", &page{Title: name + " settings", Session: sess, Nav: "buckets",
		Flash: flash(r), Data: v})
}

// settingRefused is a change the S3 edge's validation refuses: the page
// is shown again with the message beside the setting, and nothing
// changes.
type settingRefused struct {
	code, msg string
}

func (e *settingRefused) Error() string { return e.msg }

// changeSetting serves POST /buckets/:bucket/settings/:setting with form
// field action (set or delete) and, for set, value.
func (s *Server) changeSetting(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	setting, action := p.ByName("setting"), r.PostForm.Get("action")
	value := strings.TrimSpace(r.PostForm.Get("value"))
	var op string
	switch {
	case setting == "versioning" && action == "set":
		op = "PutBucketVersioning"
		err = s.setVersioning(r, sess, name, value)
	case setting == "policy" && action == "set":
		op = "PutBucketPolicy"
		err = s.setPolicy(r, sess, name, value)
	case setting == "policy" && action == "delete":
		op = "DeleteBucketPolicy"
		err = s.eng.SetContainerConfig(r.Context(), sess.acct.Tenant, name, cfgPolicy, "")
	case setting == "encryption" && action == "set":
		op = "PutBucketEncryption"
		if value != node.EncryptionSSES3 {
			err = &settingRefused{"MalformedXML", "SSEAlgorithm must be AES256."}
			break
		}
		err = s.eng.SetContainerConfig(r.Context(), sess.acct.Tenant, name, node.ContainerConfigEncryption, node.EncryptionSSES3)
	case setting == "encryption" && action == "delete":
		op = "DeleteBucketEncryption"
		err = s.eng.SetContainerConfig(r.Context(), sess.acct.Tenant, name, node.ContainerConfigEncryption, "")
	case setting == "lifecycle" && action == "set" && s.cfg.ParseLifecycle != nil:
		op = "PutBucketLifecycleConfiguration"
		var cfg node.LifecycleConfig
		if cfg, err = s.cfg.ParseLifecycle([]byte(value)); err != nil {
			err = refusedDoc(err)
			break
		}
		err = s.eng.SetLifecycleConfiguration(r.Context(), sess.acct.Tenant, name, cfg)
	case setting == "cors" && action == "set" && s.cfg.ParseCORS != nil:
		op = "PutBucketCors"
		var doc string
		if doc, err = s.cfg.ParseCORS([]byte(value)); err != nil {
			err = refusedDoc(err)
			break
		}
		err = s.eng.SetContainerConfig(r.Context(), sess.acct.Tenant, name, cfgCORS, doc)
	case setting == "lifecycle" && action == "delete":
		op = "DeleteBucketLifecycle"
		err = s.eng.DeleteLifecycleConfiguration(r.Context(), sess.acct.Tenant, name)
	case setting == "cors" && action == "delete":
		op = "DeleteBucketCors"
		err = s.eng.SetContainerConfig(r.Context(), sess.acct.Tenant, name, cfgCORS, "")
	default:
		return userError(http.StatusNotFound, "No such setting or action.")
	}
	s.meter(sess, op, int64(len(value)), 0)
	var refused *settingRefused
	if errors.As(err, &refused) {
		s.audit(r, sess, "Console"+op, http.StatusBadRequest, refused.code, name, "")
		return s.renderSettings(w, r, sess, name, http.StatusBadRequest, setting, refused.msg, value)
	}
	s.audit(r, sess, "Console"+op, status(err), "", name, "")
	if err != nil {
		if st, msg := s.translate(err); st == http.StatusBadRequest || st == http.StatusConflict {
			// The state machine's refusal (a locked bucket's versioning,
			// an invalid argument): shown beside the setting too.
			return s.renderSettings(w, r, sess, name, st, setting, msg, value)
		}
		return err
	}
	redirect(w, r, withFlash("/buckets/"+url.PathEscape(name)+"/settings", "setting-saved"))
	return nil
}

// refusedDoc turns a parser's refusal (an s3.ConfigError, seen through
// the method it has, as the console may not import s3) into the page's
// message.
func refusedDoc(err error) error {
	var s3err interface{ S3Error() (code, message string) }
	if errors.As(err, &s3err) {
		code, msg := s3err.S3Error()
		return &settingRefused{code, msg}
	}
	return &settingRefused{"MalformedXML", err.Error()}
}

func (s *Server) setVersioning(r *http.Request, sess *session, name, state string) error {
	if state != node.VersioningEnabled && state != node.VersioningSuspended {
		return &settingRefused{"MalformedXML", "Versioning is Enabled or Suspended."}
	}
	return s.eng.SetVersioning(r.Context(), sess.acct.Tenant, name, state)
}

// setPolicy validates a bucket policy as the S3 edge's PutBucketPolicy
// does (s3/accessapi.go): policy.Parse, every resource within the bucket,
// and a public policy refused under a BlockPublicPolicy access block of
// the bucket or its tenant; then stores the document as sent.
func (s *Server) setPolicy(r *http.Request, sess *session, name, doc string) error {
	if len(doc) > policy.MaxSize {
		return &settingRefused{"MalformedPolicy", fmt.Sprintf("Policies must be no larger than %d bytes", policy.MaxSize)}
	}
	pol, err := policy.Parse([]byte(doc), policy.Bucket)
	if err != nil {
		return &settingRefused{"MalformedPolicy", strings.TrimPrefix(err.Error(), "policy: malformed: ")}
	}
	if res, ok := pol.ResourcesWithin(name); !ok {
		return &settingRefused{"MalformedPolicy", fmt.Sprintf("Policy has invalid resource %q: it must be in bucket %q", res, name)}
	}
	if pol.Public {
		ctx, tenant := r.Context(), sess.acct.Tenant
		tdoc, err := s.eng.TenantPublicAccessBlock(ctx, tenant)
		if err != nil {
			return err
		}
		bdoc, err := s.eng.ContainerConfig(ctx, tenant, name, cfgPublicAccessBlock)
		if err != nil {
			return err
		}
		tp, err := policy.ParsePublicAccessBlock(tdoc)
		if err != nil {
			return err
		}
		bp, err := policy.ParsePublicAccessBlock(bdoc)
		if err != nil {
			return err
		}
		if tp.Or(bp).BlockPublicPolicy {
			return &settingRefused{"AccessDenied", "The policy is public and the PublicAccessBlock of the bucket or its tenant blocks public policies"}
		}
	}
	return s.eng.SetContainerConfig(r.Context(), sess.acct.Tenant, name, cfgPolicy, doc)
}
