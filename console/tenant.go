package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/tenancy"
)

// The tenant's pages: buckets, the object browser, uploads and downloads,
// access keys, usage and the bill. Every handler takes the tenant from the
// session, never from the request (invariant 6).

// maxKeyLen is S3's limit on an object key.
const maxKeyLen = 1024

// partSize is the part size the upload script uses: above S3's 5 MiB
// minimum, small enough that a lost part costs little.
const partSize = 8 << 20

func (s *Server) bucketParam(r *http.Request, p httprouter.Params, sess *session) (string, error) {
	name := p.ByName("bucket")
	if !s.cfg.ValidBucketName(name) {
		return "", userError(http.StatusBadRequest, "Invalid bucket name.")
	}
	if _, err := s.eng.HeadContainer(r.Context(), sess.acct.Tenant, name); err != nil {
		return "", err
	}
	return name, nil
}

func keyParam(v string) (string, error) {
	if v == "" || len(v) > maxKeyLen || !utf8.ValidString(v) {
		return "", userError(http.StatusBadRequest, "Invalid object key: 1 to 1024 bytes of UTF-8.")
	}
	return v, nil
}

type bucketRow struct {
	Name    string
	Created time.Time
}

func (s *Server) buckets(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	cs, err := s.eng.ListContainers(r.Context(), sess.acct.Tenant)
	if err != nil {
		return err
	}
	s.meter(sess, "ListBuckets", 0, 0)
	rows := make([]bucketRow, len(cs))
	for i, c := range cs {
		rows[i] = bucketRow{Name: c.Name, Created: c.Created}
	}
	return s.render(w, r, http.StatusOK, "buckets", &page{Title: "Buckets", Session: sess, Nav: "buckets", Flash: flash(r), Data: rows})
}

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if !s.cfg.ValidBucketName(name) {
		return userError(http.StatusBadRequest, "Invalid bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.")
	}
	err := s.eng.CreateContainer(r.Context(), sess.acct.Tenant, node.CreateContainerInput{Name: name})
	s.meter(sess, "CreateBucket", 0, 0)
	s.audit(r, sess, "ConsoleCreateBucket", status(err), "", name, "")
	if err != nil {
		return err
	}
	redirect(w, r, withFlash("/buckets/"+url.PathEscape(name), "bucket-created"))
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	err = s.eng.DeleteContainer(r.Context(), sess.acct.Tenant, name)
	s.meter(sess, "DeleteBucket", 0, 0)
	s.audit(r, sess, "ConsoleDeleteBucket", status(err), "", name, "")
	if err != nil {
		return err
	}
	redirect(w, r, withFlash("/buckets", "bucket-deleted"))
	return nil
}

// status is the audit status of an operation's outcome.
func status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return http.StatusInternalServerError
}

type crumb struct{ Name, Prefix string }

type objectRow struct {
	Key, Name string
	Size      int64
	Modified  time.Time
}

type browserData struct {
	Bucket   string
	Prefix   string
	Crumbs   []crumb
	Folders  []crumb
	Objects  []objectRow
	Next     string // StartAfter of the next page, "" on the last
	After    string
	Search   bool
	PartSize int
}

// bucket is the object browser: one page of the keys under a prefix, with
// "folders" rolled up at "/". A search lists every key that starts with
// the prefix, without rolling up.
func (s *Server) bucket(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := browserData{Bucket: name, Prefix: q.Get("prefix"), After: q.Get("after"), Search: q.Get("search") != "", PartSize: partSize}
	if len(d.Prefix) > maxKeyLen || len(d.After) > maxKeyLen || !utf8.ValidString(d.Prefix) || !utf8.ValidString(d.After) {
		return userError(http.StatusBadRequest, "Invalid prefix.")
	}
	// The listing is the page's cost: users of the tenant refreshing the
	// same folder share one rendering for a moment (cache.go).
	key := strings.Join([]string{name, d.Prefix, d.After, strconv.FormatBool(d.Search)}, "\x00")
	pg := &page{Title: name, Session: sess, Nav: "buckets", Flash: flash(r)}
	err = s.renderCached(w, r, "bucket", key, pg, func() (any, error) {
		opts := node.ListOptions{Prefix: d.Prefix, StartAfter: d.After, MaxKeys: pageSize}
		if !d.Search {
			opts.Delimiter = "/"
		}
		res, err := s.eng.ListArtifacts(r.Context(), sess.acct.Tenant, name, opts)
		if err != nil {
			return nil, err
		}
		d.Crumbs = crumbs(d.Prefix)
		for _, cp := range res.CommonPrefixes {
			d.Folders = append(d.Folders, crumb{Name: strings.TrimPrefix(cp, d.Prefix), Prefix: cp})
		}
		for _, a := range res.Artifacts {
			n := a.Key
			if !d.Search {
				n = strings.TrimPrefix(a.Key, d.Prefix)
			}
			d.Objects = append(d.Objects, objectRow{Key: a.Key, Name: n, Size: a.Size, Modified: a.Modified})
		}
		if res.Truncated {
			d.Next = res.Next
		}
		return d, nil
	})
	if err == nil {
		s.meter(sess, "ListObjectsV2", 0, 0)
	}
	return err
}

// crumbs splits a prefix into its folders for navigation.
func crumbs(prefix string) []crumb {
	var out []crumb
	for i := 0; i < len(prefix); {
		j := strings.IndexByte(prefix[i:], '/')
		if j < 0 {
			break
		}
		out = append(out, crumb{Name: prefix[i : i+j+1], Prefix: prefix[:i+j+1]})
		i += j + 1
	}
	return out
}

// settingsSection is one plain part of a bucket's settings page (a table
// of facts); the settings that can be changed have blocks of their own
// (settings.go).
type settingsSection struct {
	Name      string
	Available bool
	Rows      [][2]string
	Note      string
}

func limitText(n int64, f func(int64) string) string {
	if n <= 0 {
		return "none"
	}
	return f(n)
}

type kv struct{ K, V string }

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

func (s *Server) object(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	key, err := keyParam(r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	info, err := s.eng.HeadArtifact(r.Context(), sess.acct.Tenant, node.VersionRef{Container: name, Key: key})
	if err != nil {
		return err
	}
	s.meter(sess, "HeadObject", 0, 0)
	dir := ""
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		dir = key[:i+1]
	}
	return s.render(w, r, http.StatusOK, "object", &page{Title: key, Session: sess, Nav: "buckets", Data: map[string]any{
		"Bucket": name, "Key": key, "Dir": dir, "Info": info,
		"SSEC": info.Encryption == node.EncryptionCustomer, "SSECAllowed": r.TLS != nil || s.cfg.SSECInsecure,
		"Headers": sortedKV(info.Headers), "Meta": sortedKV(info.Meta), "Checksums": sortedKV(info.Checksums),
	}})
}

// download streams an object as an attachment. It is always sent as
// application/octet-stream with nosniff and a sandboxing policy, never
// with its stored content type: an HTML object rendered on the console's
// origin would run with the user's session.
func (s *Server) download(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	key, err := keyParam(r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	return s.sendObject(w, r, p, sess, key, nil)
}

// downloadSSEC streams an SSE-C object: the form (POST, so the key is in
// the body, never in a URL, a log or the browser's history) gives the
// object's key and the customer key in base64. As on S3, the key is taken
// over HTTPS only (Config.SSECInsecure lifts that for tests). It is used
// for this one read and never stored or logged.
func (s *Server) downloadSSEC(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	if r.TLS == nil && !s.cfg.SSECInsecure {
		return userError(http.StatusBadRequest, "Customer-key (SSE-C) downloads need HTTPS: the key must not cross the network in the clear. Open the console over https://.")
	}
	key, err := keyParam(r.PostForm.Get("key"))
	if err != nil {
		return err
	}
	ck, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.PostForm.Get(sseKeyField)))
	if err != nil || len(ck) != 32 {
		return userError(http.StatusBadRequest, "The customer key must be 32 bytes, base64-encoded (44 characters).")
	}
	return s.sendObject(w, r, p, sess, key, ck)
}

// sseKeyField is the customer-key field of the SSE-C download form.
const sseKeyField = "sse_key"

// sendObject streams object key of the bucket in p as an attachment,
// opened with the SSE-C key ck when given.
func (s *Server) sendObject(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session, key string, ck []byte) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	if err := s.eng.CheckEgressQuota(r.Context(), sess.acct.Tenant); err != nil {
		return err
	}
	ar, err := s.eng.OpenArtifact(r.Context(), sess.acct.Tenant, node.VersionRef{Container: name, Key: key, CustomerKey: ck})
	if err != nil {
		return err
	}
	info := ar.Info()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("ETag", `"`+info.ETag+`"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	cw := &countingWriter{w: w, wait: s.shape(r, sess, tenancy.Egress)}
	err = ar.WriteRange(r.Context(), cw, 0, info.Size)
	s.meter(sess, "GetObject", 0, cw.n)
	if err != nil {
		// The status is sent: the client sees a short body.
		s.log.Warn("console download cut", "tenant", sess.acct.Tenant, "bucket", name, "err", err)
	}
	return nil
}

// countingWriter counts the bytes of a download and takes them from the
// tenant's egress bandwidth first (wait, when set).
type countingWriter struct {
	w    io.Writer
	n    int64
	wait func(n int) error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.wait != nil {
		if err := c.wait(len(p)); err != nil {
			return 0, err
		}
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// countingReader counts the bytes of an upload and takes them from the
// tenant's ingress bandwidth (wait, when set), as the S3 edge does.
type countingReader struct {
	r    io.Reader
	n    int64
	wait func(n int) error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.wait != nil {
		if werr := c.wait(n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// shape returns the bandwidth wait of a tenant's transfer in direction
// dir (nil when the console has no limiter).
func (s *Server) shape(r *http.Request, sess *session, dir tenancy.Direction) func(int) error {
	if s.cfg.WaitBytes == nil {
		return nil
	}
	return func(n int) error { return s.cfg.WaitBytes(r.Context(), sess.acct.Tenant, dir, n) }
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	key, err := keyParam(r.PostForm.Get("key"))
	if err != nil {
		return err
	}
	_, err = s.eng.DeleteArtifact(r.Context(), sess.acct.Tenant, node.DeleteInput{Container: name, Key: key})
	s.meter(sess, "DeleteObject", 0, 0)
	s.audit(r, sess, "ConsoleDeleteObject", status(err), "", name, key)
	if err != nil {
		return err
	}
	dir := ""
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		dir = key[:i+1]
	}
	redirect(w, r, withFlash("/buckets/"+url.PathEscape(name)+"?prefix="+url.QueryEscape(dir), "object-deleted"))
	return nil
}

// uploadForm is the upload that works without JavaScript: a
// multipart/form-data post of one file (its key is the prefix field plus
// the file's name), streamed into a single PutArtifact (at most 5 GiB).
// The anti-forgery token travels in the form's action URL, so it is
// checked before any byte of the file is read.
func (s *Server) uploadForm(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return userError(http.StatusBadRequest, "Expected a multipart/form-data upload.")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	prefix := ""
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return userError(http.StatusBadRequest, "The form has no file.")
		}
		if err != nil {
			return userError(http.StatusBadRequest, "Malformed upload.")
		}
		switch part.FormName() {
		case "prefix":
			b, _ := io.ReadAll(io.LimitReader(part, maxKeyLen+1))
			prefix = string(b)
			continue
		case "file":
		default:
			continue
		}
		key, err := keyParam(prefix + path.Base(strings.ReplaceAll(part.FileName(), "\\", "/")))
		if err != nil {
			return err
		}
		if part.FileName() == "" {
			return userError(http.StatusBadRequest, "Choose a file to upload.")
		}
		cr := &countingReader{r: part, wait: s.shape(r, sess, tenancy.Ingress)}
		ctype := part.Header.Get("Content-Type")
		if _, _, err := mime.ParseMediaType(ctype); err != nil || len(ctype) > 256 {
			ctype = "application/octet-stream"
		}
		_, err = s.eng.PutArtifact(r.Context(), sess.acct.Tenant, node.PutInput{Container: name, Key: key, Body: cr, Size: -1, ContentType: ctype})
		s.meter(sess, "PutObject", cr.n, 0)
		s.audit(r, sess, "ConsolePutObject", status(err), "", name, key)
		if err != nil {
			return err
		}
		redirect(w, r, withFlash("/buckets/"+url.PathEscape(name)+"?prefix="+url.QueryEscape(prefix), "uploaded"))
		return nil
	}
}

// writeJSON answers the upload script.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// startMultipart begins a multipart upload for the upload script: form
// fields key and content_type; the answer names the upload and the part
// size to use.
func (s *Server) startMultipart(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	key, err := keyParam(r.PostForm.Get("key"))
	if err != nil {
		return err
	}
	size, _ := strconv.ParseInt(r.PostForm.Get("size"), 10, 64)
	if size > 0 {
		if err := s.eng.CheckWriteQuota(r.Context(), sess.acct.Tenant, name, key, size); err != nil {
			return err
		}
	}
	ctype := r.PostForm.Get("content_type")
	if _, _, err := mime.ParseMediaType(ctype); err != nil || len(ctype) > 256 {
		ctype = "application/octet-stream"
	}
	u, err := s.eng.CreateUpload(r.Context(), sess.acct.Tenant, node.UploadInput{Container: name, Key: key, ContentType: ctype})
	s.meter(sess, "CreateMultipartUpload", 0, 0)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"upload_id": u.UploadID, "key": key, "part_size": partSize})
}

// uploadPart streams one part (the request body, Content-Length
// required) into the upload.
func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	key, err := keyParam(r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(p.ByName("part"))
	if err != nil || n < 1 || n > 10000 {
		return userError(http.StatusBadRequest, "Part numbers are 1 to 10000.")
	}
	if r.ContentLength < 0 {
		return userError(http.StatusLengthRequired, "A part needs its Content-Length.")
	}
	if r.ContentLength > 5<<30 {
		return userError(http.StatusRequestEntityTooLarge, "A part is at most 5 GiB.")
	}
	cr := &countingReader{r: r.Body, wait: s.shape(r, sess, tenancy.Ingress)}
	pi, err := s.eng.UploadPart(r.Context(), sess.acct.Tenant, node.PartInput{Container: name, Key: key, UploadID: p.ByName("upload"),
		Number: n, Body: cr, Size: r.ContentLength})
	s.meter(sess, "UploadPart", cr.n, 0)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"part": pi.Number, "etag": pi.ETag})
}

func (s *Server) completeMultipart(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	key, err := keyParam(r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	var parts []node.PartRef
	if err := json.Unmarshal([]byte(r.PostForm.Get("parts")), &parts); err != nil || len(parts) == 0 || len(parts) > 10000 {
		return userError(http.StatusBadRequest, "Malformed part list.")
	}
	info, err := s.eng.CompleteUpload(r.Context(), sess.acct.Tenant, name, key, p.ByName("upload"), parts, node.Conditions{})
	s.meter(sess, "CompleteMultipartUpload", 0, 0)
	s.audit(r, sess, "ConsolePutObject", status(err), "", name, key)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"key": info.Key, "size": info.Size, "etag": info.ETag})
}

func (s *Server) abortMultipart(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	name, err := s.bucketParam(r, p, sess)
	if err != nil {
		return err
	}
	key, err := keyParam(r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	err = s.eng.AbortUpload(r.Context(), sess.acct.Tenant, name, key, p.ByName("upload"))
	s.meter(sess, "AbortMultipartUpload", 0, 0)
	if err != nil && !errors.Is(err, node.ErrUploadNotFound) {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"aborted": true})
}

type keyRow struct {
	ID, User string
	Enabled  bool
	Created  time.Time
}

func (s *Server) keyRows(r *http.Request, sess *session) ([]keyRow, error) {
	ks, err := s.eng.ListAccessKeys(r.Context(), sess.acct.Tenant)
	if err != nil {
		return nil, err
	}
	rows := make([]keyRow, len(ks))
	for i, k := range ks {
		rows[i] = keyRow{ID: k.ID, User: k.User, Enabled: k.Enabled, Created: k.Created}
	}
	return rows, nil
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	rows, err := s.keyRows(r, sess)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "keys", &page{Title: "Access keys", Session: sess, Nav: "keys", Flash: flash(r), Data: map[string]any{"Keys": rows}})
}

// createKey creates an access key of the signed-in user and shows its
// secret in this answer only (never stored in clear, never shown again).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	cred, err := s.eng.CreateAccessKey(r.Context(), sess.acct.Tenant, sess.acct.Name)
	s.audit(r, sess, "ConsoleCreateAccessKey", status(err), "", "", "")
	if err != nil {
		return err
	}
	rows, err := s.keyRows(r, sess)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "keys", &page{Title: "Access keys", Session: sess, Nav: "keys",
		Data: map[string]any{"Keys": rows, "New": cred}})
}

func (s *Server) keyAction(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	id := p.ByName("key")
	if id == "" || len(id) > 128 {
		return userError(http.StatusBadRequest, "Invalid access key id.")
	}
	// The key must be this tenant's: another tenant's key is "not found".
	k, err := s.eng.GetAccessKey(r.Context(), id)
	if err != nil || k.Tenant != sess.acct.Tenant {
		return userError(http.StatusNotFound, "No such access key.")
	}
	var code string
	switch p.ByName("action") {
	case "disable":
		code = "key-disabled"
		_, err = s.eng.SetAccessKeyEnabled(r.Context(), id, false)
	case "enable":
		code = "key-enabled"
		_, err = s.eng.SetAccessKeyEnabled(r.Context(), id, true)
	case "delete":
		code = "key-deleted"
		_, err = s.eng.DeleteAccessKey(r.Context(), id)
	default:
		return userError(http.StatusNotFound, "No such action.")
	}
	s.audit(r, sess, "ConsoleAccessKey:"+p.ByName("action"), status(err), "", "", "")
	if err != nil {
		return err
	}
	redirect(w, r, withFlash("/keys", code))
	return nil
}

// monthParam parses ?month=YYYY-MM (default: this month).
func monthParam(r *http.Request) (time.Time, error) {
	m := r.URL.Query().Get("month")
	if m == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse("2006-01", m)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, userError(http.StatusBadRequest, "Invalid month: want YYYY-MM.")
	}
	return t, nil
}

// invoiceFor computes a tenant's invoice of the month containing month.
func (s *Server) invoiceFor(r *http.Request, tenant string, month time.Time) (billing.Invoice, node.TenantInfo, error) {
	t, err := s.eng.GetTenant(r.Context(), tenant)
	if err != nil {
		return billing.Invoice{}, t, err
	}
	start, end := billing.MonthOf(month)
	hours, err := s.eng.UsageHours(r.Context(), tenant, start, end)
	if err != nil {
		return billing.Invoice{}, t, err
	}
	plan, err := s.cfg.Plans.Plan(t.Plan)
	if err != nil {
		plan = billing.Plan{Name: t.Plan}
	}
	return billing.NewInvoice(tenant, plan, s.cfg.Plans.Currency, month, hours), t, nil
}

// invoice exports the signed-in tenant's invoice as CSV or JSON.
func (s *Server) invoice(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	return s.serveInvoice(w, r, sess.acct.Tenant)
}

// operatorInvoice exports a tenant's invoice for an operator.
func (s *Server) operatorInvoice(w http.ResponseWriter, r *http.Request, p httprouter.Params, _ *session) error {
	t, err := s.tenantParam(r, p)
	if err != nil {
		return err
	}
	return s.serveInvoice(w, r, t.ID)
}

func (s *Server) serveInvoice(w http.ResponseWriter, r *http.Request, tenant string) error {
	month, err := monthParam(r)
	if err != nil {
		return err
	}
	inv, _, err := s.invoiceFor(r, tenant, month)
	if err != nil {
		return err
	}
	fname := fmt.Sprintf("invoice-%s-%s", tenant, inv.Start.Format("2006-01"))
	switch r.URL.Query().Get("format") {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fname + ".csv"}))
		w.Header().Set("Cache-Control", "no-store")
		return inv.WriteCSV(w)
	case "json", "":
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fname + ".json"}))
		return writeJSON(w, http.StatusOK, inv)
	}
	return userError(http.StatusBadRequest, "Invalid format: csv or json.")
}
