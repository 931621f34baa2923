package admin

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// Cold tiers: /admin/v1/tiers (README, "Cold tiers"). A tier's secret key
// comes in once, in the body of add or edit, and is never answered.

var tierNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// recallBudget bounds the work of one recall request, well under
// adminTimeout; the CLI calls again until nothing remains.
const recallBudget = 20 * time.Second

// Tier is a tier as the admin API shows it (never its secret).
type Tier struct {
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Endpoint       string    `json:"endpoint"`
	Region         string    `json:"region,omitempty"`
	Bucket         string    `json:"bucket"`
	Prefix         string    `json:"prefix,omitempty"`
	PathStyle      bool      `json:"path_style,omitempty"`
	CAFile         string    `json:"ca_file,omitempty"`
	AccessKey      string    `json:"access_key"`
	Archive        bool      `json:"archive,omitempty"`
	StorageClass   string    `json:"storage_class"`
	StorageClasses []string  `json:"storage_classes,omitempty"`
	Created        time.Time `json:"created"`
	Artifacts      int64     `json:"artifacts"`
	Bytes          int64     `json:"bytes"`
	Pending        int       `json:"pending_deletes"`
}

// TierRecall is the answer of one recall request.
type TierRecall struct {
	Recalled       int64 `json:"recalled"`
	Bytes          int64 `json:"bytes"`
	Remaining      int64 `json:"remaining"`
	RemainingBytes int64 `json:"remaining_bytes"`
}

// TierMove is the answer of a move: the version as it is now.
type TierMove struct {
	Key          string `json:"key"`
	VersionID    string `json:"version_id,omitempty"`
	Size         int64  `json:"size"`
	StorageClass string `json:"storage_class"`
}

func toTier(t node.TierInfo) Tier {
	return Tier{
		Name: t.Name, Type: t.Type, Endpoint: t.Endpoint, Region: t.Region, Bucket: t.Bucket, Prefix: t.Prefix,
		PathStyle: t.PathStyle, CAFile: t.CAFile, AccessKey: t.AccessKey, Archive: t.Archive,
		StorageClass: t.StorageClass(), StorageClasses: t.StorageClasses, Created: t.Created,
		Artifacts: t.Artifacts, Bytes: t.Bytes, Pending: t.Pending,
	}
}

func (a *adminAPI) registerTiers(r *httprouter.Router) {
	const v1 = "/admin/v1"
	r.POST(v1+"/tiers", a.serve("AddTier", a.addTier))
	r.GET(v1+"/tiers", a.serve("ListTiers", a.listTiers))
	r.PATCH(v1+"/tiers/:tier", a.serve("EditTier", a.editTier))
	r.DELETE(v1+"/tiers/:tier", a.serve("RemoveTier", a.removeTier))
	r.POST(v1+"/tiers/:tier/verify", a.serve("VerifyTier", a.verifyTier))
	r.POST(v1+"/tiers/:tier/recall", a.serve("RecallTier", a.recallTier))
	r.POST(v1+"/tiers/:tier/move", a.serve("MoveToTier", a.moveToTier))
}

func tierParam(c *adminCall) (string, error) {
	name := c.p.ByName("tier")
	if !tierNameRe.MatchString(name) {
		return "", badRequest("InvalidTierName", "tier name must be 1-63 characters of a-z, 0-9 and ._- starting with a letter or digit")
	}
	return name, nil
}

func (a *adminAPI) addTier(ctx context.Context, c *adminCall) (int, any, error) {
	var in struct {
		Name           string   `json:"name"`
		Type           string   `json:"type"`
		Endpoint       string   `json:"endpoint"`
		Region         string   `json:"region"`
		Bucket         string   `json:"bucket"`
		Prefix         string   `json:"prefix"`
		PathStyle      bool     `json:"path_style"`
		CAFile         string   `json:"ca_file"`
		AccessKey      string   `json:"access_key"`
		SecretKey      string   `json:"secret_key"`
		Archive        bool     `json:"archive"`
		StorageClasses []string `json:"storage_classes"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if !tierNameRe.MatchString(in.Name) {
		return 0, nil, badRequest("InvalidTierName", "tier name must be 1-63 characters of a-z, 0-9 and ._- starting with a letter or digit")
	}
	if in.Type == "" {
		in.Type = "s3"
	}
	if in.Endpoint == "" || in.Bucket == "" || in.AccessKey == "" || in.SecretKey == "" {
		return 0, nil, badRequest("InvalidArgument", "endpoint, bucket, access_key and secret_key are required")
	}
	for _, f := range []string{in.Endpoint, in.Region, in.Bucket, in.Prefix, in.CAFile, in.AccessKey} {
		if err := checkLabel("tier setting", f); err != nil {
			return 0, nil, err
		}
	}
	t, err := a.eng.AddTier(ctx, metastore.Tier{
		Name: in.Name, Type: in.Type, Endpoint: in.Endpoint, Region: in.Region, Bucket: in.Bucket, Prefix: in.Prefix,
		PathStyle: in.PathStyle, CAFile: in.CAFile, AccessKey: in.AccessKey, Archive: in.Archive, StorageClasses: in.StorageClasses,
	}, in.SecretKey)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toTier(t), nil
}

func (a *adminAPI) listTiers(ctx context.Context, c *adminCall) (int, any, error) {
	ts, err := a.eng.ListTiers(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]Tier, len(ts))
	for i, t := range ts {
		out[i] = toTier(t)
	}
	return http.StatusOK, map[string][]Tier{"tiers": out}, nil
}

func (a *adminAPI) editTier(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := tierParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		AccessKey      string   `json:"access_key"`
		SecretKey      string   `json:"secret_key"`
		Endpoint       string   `json:"endpoint"`
		Region         string   `json:"region"`
		CAFile         string   `json:"ca_file"`
		StorageClasses []string `json:"storage_classes"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if (in.AccessKey == "") != (in.SecretKey == "") {
		return 0, nil, badRequest("InvalidArgument", "access_key and secret_key are rotated together")
	}
	t, err := a.eng.EditTier(ctx, name, node.TierEdit{
		AccessKey: in.AccessKey, SecretKey: in.SecretKey, Endpoint: in.Endpoint, Region: in.Region,
		CAFile: in.CAFile, StorageClasses: in.StorageClasses,
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toTier(t), nil
}

func (a *adminAPI) removeTier(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := tierParam(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.RemoveTier(ctx, name); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"removed": name}, nil
}

func (a *adminAPI) verifyTier(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := tierParam(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.VerifyTier(ctx, name); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"verified": name}, nil
}

// recallTier brings back what fits in recallBudget (at least one version).
func (a *adminAPI) recallTier(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := tierParam(c)
	if err != nil {
		return 0, nil, err
	}
	var out TierRecall
	deadline := time.Now().Add(recallBudget)
	for {
		rp, err := a.eng.RecallTier(ctx, name, 1, nil)
		out.Recalled += rp.Done
		out.Bytes += rp.Bytes
		out.Remaining, out.RemainingBytes = rp.Remaining, rp.RemainingBytes
		if err != nil {
			return 0, nil, err
		}
		if rp.Done == 0 || rp.Remaining == 0 || time.Now().After(deadline) {
			return http.StatusOK, out, nil
		}
	}
}

func (a *adminAPI) moveToTier(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := tierParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Tenant    string `json:"tenant"`
		Container string `json:"container"`
		Key       string `json:"key"`
		VersionID string `json:"version_id"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if !tenantIDRe.MatchString(in.Tenant) && in.Tenant != node.RootTenant {
		return 0, nil, badRequest("InvalidTenantID", "tenant id must be 3-63 characters of a-z, 0-9 and -")
	}
	if in.Container == "" || in.Key == "" {
		return 0, nil, badRequest("InvalidArgument", "container and key are required")
	}
	c.ev.Tenant, c.ev.Container, c.ev.Key = in.Tenant, in.Container, in.Key
	info, err := a.eng.TransitionVersion(ctx, in.Tenant, in.Container, in.Key, in.VersionID, name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TierMove{Key: info.Key, VersionID: info.VersionID, Size: info.Size, StorageClass: info.StorageClass}, nil
}
