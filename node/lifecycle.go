package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// Lifecycle configuration of containers (S3 bucket lifecycle rules).
//
// The s3 package parses and validates the XML into a LifecycleConfig; the
// Engine checks what only it knows (a tier serves every transition's
// storage class) and stores the configuration, JSON-encoded, in the
// container's opaque Config map under LifecycleConfigName, so it is
// replicated with the container record and needs no command of its own.
// The lifecycle engine (lifecycle_engine.go) and the x-amz-expiration
// header read it back through the decoded-configuration cache below.

// LifecycleConfigName is the key of a container's lifecycle configuration
// in metastore.Container.Config.
const LifecycleConfigName = "lifecycle"

// MaxLifecycleRules is S3's limit of rules per configuration.
const MaxLifecycleRules = 1000

// LifecycleConfig is a container's lifecycle configuration.
type LifecycleConfig struct {
	Rules []LifecycleRule `json:"rules"`
}

// LifecycleRule is one rule. A rule with no action is refused by the s3
// layer's validation.
type LifecycleRule struct {
	ID      string `json:"id,omitempty"`
	Enabled bool   `json:"enabled"`
	// LegacyPrefix: the rule named its prefix with the top-level <Prefix>
	// element instead of a <Filter> (kept so GET answers the same form).
	LegacyPrefix bool            `json:"legacyPrefix,omitempty"`
	Filter       LifecycleFilter `json:"filter"`

	Expiration            *LifecycleExpiration   `json:"expiration,omitempty"`
	Transitions           []LifecycleTransition  `json:"transitions,omitempty"`
	NoncurrentExpiration  *NoncurrentExpiration  `json:"noncurrentExpiration,omitempty"`
	NoncurrentTransitions []NoncurrentTransition `json:"noncurrentTransitions,omitempty"`
	// AbortUploadDays is AbortIncompleteMultipartUpload's
	// DaysAfterInitiation (0: no such action).
	AbortUploadDays int `json:"abortUploadDays,omitempty"`
}

// LifecycleFilter selects the artifacts a rule applies to: all of its
// conditions hold (the zero filter selects every artifact).
type LifecycleFilter struct {
	Prefix string            `json:"prefix,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	// SizeGreaterThan and SizeLessThan bound the size in bytes (0: no
	// bound).
	SizeGreaterThan int64 `json:"sizeGreaterThan,omitempty"`
	SizeLessThan    int64 `json:"sizeLessThan,omitempty"`
	// And: the filter was written with <And> (kept for GET).
	And bool `json:"and,omitempty"`
}

// LifecycleExpiration expires current versions after Days or on Date, or
// (ExpiredObjectDeleteMarker) removes delete markers left without any
// version behind them. Exactly one of the three is set.
type LifecycleExpiration struct {
	Days                      int       `json:"days,omitempty"`
	Date                      time.Time `json:"date,omitzero"`
	ExpiredObjectDeleteMarker bool      `json:"expiredObjectDeleteMarker,omitempty"`
}

// LifecycleTransition moves current versions to StorageClass after Days
// or on Date.
type LifecycleTransition struct {
	Days         int       `json:"days,omitempty"`
	Date         time.Time `json:"date,omitzero"`
	StorageClass string    `json:"storageClass"`
}

// NoncurrentExpiration removes versions NoncurrentDays after they became
// noncurrent, keeping the NewerNoncurrentVersions newest noncurrent ones.
type NoncurrentExpiration struct {
	NoncurrentDays          int `json:"noncurrentDays"`
	NewerNoncurrentVersions int `json:"newerNoncurrentVersions,omitempty"`
}

// NoncurrentTransition moves noncurrent versions to StorageClass.
type NoncurrentTransition struct {
	NoncurrentDays          int    `json:"noncurrentDays"`
	NewerNoncurrentVersions int    `json:"newerNoncurrentVersions,omitempty"`
	StorageClass            string `json:"storageClass"`
}

// TierResolver maps S3 storage classes to the tiers that serve them. By
// default (none set) the cluster's tiers decide (Engine.TierOf, from the
// storage classes each tier names); SetTierResolver replaces that
// mapping. A Transition rule to a class no tier serves is refused.
type TierResolver interface {
	// TierForClass returns the tier serving class, and whether one does.
	TierForClass(class string) (tier string, ok bool)
}

// TierError refuses a transition to a storage class no tier serves.
type TierError struct{ Class string }

func (e *TierError) Error() string {
	return fmt.Sprintf("node: no tier is configured for storage class %s", e.Class)
}

// ClientMessage is the message the s3 layer sends.
func (e *TierError) ClientMessage() string {
	return fmt.Sprintf("no tier is configured for storage class %s", e.Class)
}

func (e *TierError) Unwrap() error { return ErrInvalidArgument }

// ErrNoSuchLifecycle: the container has no lifecycle configuration.
var ErrNoSuchLifecycle = errors.New("node: no lifecycle configuration")

// SetTierResolver installs the tier resolver transition rules are checked
// against (nil: the cluster's tiers, Engine.TierOf).
func (e *Engine) SetTierResolver(r TierResolver) {
	e.lc.mu.Lock()
	e.lc.mu.tiers = r
	e.lc.mu.Unlock()
}

func (e *Engine) tierResolver() TierResolver {
	e.lc.mu.Lock()
	defer e.lc.mu.Unlock()
	return e.lc.mu.tiers
}

// tierFor names the tier serving a storage class: the installed
// TierResolver's answer, or else the cluster's tiers (TierOf, the one
// mapping of storage classes to tiers). *TierError when none does.
func (e *Engine) tierFor(ctx context.Context, class string) (string, error) {
	if r := e.tierResolver(); r != nil {
		if t, ok := r.TierForClass(class); ok {
			return t, nil
		}
		return "", &TierError{Class: class}
	}
	t, err := e.TierOf(ctx, class)
	if err != nil {
		return "", err
	}
	if t == "" {
		return "", &TierError{Class: class}
	}
	return t, nil
}

// LifecycleConfiguration returns a container's lifecycle configuration,
// ErrNoSuchLifecycle when it has none.
func (e *Engine) LifecycleConfiguration(ctx context.Context, tenant, container string) (LifecycleConfig, error) {
	c, err := e.meta.GetContainer(ctx, tenant, container)
	if err != nil {
		return LifecycleConfig{}, metaErr(err)
	}
	cfg := e.lc.cache.get(c.Config[LifecycleConfigName])
	if cfg == nil {
		return LifecycleConfig{}, ErrNoSuchLifecycle
	}
	return *cfg, nil
}

// SetLifecycleConfiguration replaces a container's lifecycle
// configuration (validated by the caller's wire parser). Every
// transition's storage class must be served by a tier (*TierError).
func (e *Engine) SetLifecycleConfiguration(ctx context.Context, tenant, container string, cfg LifecycleConfig) error {
	if len(cfg.Rules) == 0 || len(cfg.Rules) > MaxLifecycleRules {
		return fmt.Errorf("%w: a lifecycle configuration holds 1 to %d rules", ErrInvalidArgument, MaxLifecycleRules)
	}
	for _, r := range cfg.Rules {
		classes := make([]string, 0, len(r.Transitions)+len(r.NoncurrentTransitions))
		for _, t := range r.Transitions {
			classes = append(classes, t.StorageClass)
		}
		for _, t := range r.NoncurrentTransitions {
			classes = append(classes, t.StorageClass)
		}
		for _, class := range classes {
			if _, err := e.tierFor(ctx, class); err != nil {
				return err
			}
		}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return e.SetContainerConfig(ctx, tenant, container, LifecycleConfigName, string(b))
}

// DeleteLifecycleConfiguration removes a container's lifecycle
// configuration (no error when it has none).
func (e *Engine) DeleteLifecycleConfiguration(ctx context.Context, tenant, container string) error {
	return e.SetContainerConfig(ctx, tenant, container, LifecycleConfigName, "")
}

// lifecycleCache keeps decoded configurations by their stored encoding,
// so that a GET's x-amz-expiration and the engine's walk do not decode
// JSON per artifact. Bounded: it is emptied when it grows past
// lifecycleCacheMax entries.
type lifecycleCache struct {
	mu sync.Mutex
	m  map[string]*LifecycleConfig
}

const lifecycleCacheMax = 1024

// get decodes raw (nil for "" or an undecodable value, which cannot be
// stored through SetLifecycleConfiguration).
func (c *lifecycleCache) get(raw string) *LifecycleConfig {
	if raw == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.m[raw]; ok {
		return cfg
	}
	var cfg LifecycleConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil
	}
	if c.m == nil || len(c.m) >= lifecycleCacheMax {
		c.m = make(map[string]*LifecycleConfig)
	}
	c.m[raw] = &cfg
	return &cfg
}

// --- evaluation ---

// matches reports whether the filter selects an artifact.
func (f *LifecycleFilter) matches(key string, size int64, tags map[string]string) bool {
	if !strings.HasPrefix(key, f.Prefix) {
		return false
	}
	if f.SizeGreaterThan > 0 && size <= f.SizeGreaterThan {
		return false
	}
	if f.SizeLessThan > 0 && size >= f.SizeLessThan {
		return false
	}
	for k, v := range f.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// dayCeil rounds t up to the next midnight UTC (t itself when it is one),
// which is how S3 turns "N days after creation" into a due time.
func dayCeil(t time.Time) time.Time {
	t = t.UTC()
	d := t.Truncate(24 * time.Hour)
	if d.Equal(t) {
		return d
	}
	return d.Add(24 * time.Hour)
}

// afterDays is when an action N days after t is due.
func afterDays(t time.Time, days int) time.Time {
	return dayCeil(t.Add(time.Duration(days) * 24 * time.Hour))
}

// expiry is when the rules expire a current artifact (not a delete
// marker), and by which rule; ok is false when none does.
func (cfg *LifecycleConfig) expiry(key string, size int64, tags map[string]string, created time.Time) (due time.Time, rule string, ok bool) {
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !r.Enabled || r.Expiration == nil || r.Expiration.ExpiredObjectDeleteMarker || !r.Filter.matches(key, size, tags) {
			continue
		}
		var at time.Time
		if r.Expiration.Days > 0 {
			at = afterDays(created, r.Expiration.Days)
		} else {
			at = r.Expiration.Date
		}
		if !ok || at.Before(due) {
			due, rule, ok = at, r.ID, true
		}
	}
	return due, rule, ok
}

// cleansMarkers reports whether a rule removes an expired delete marker
// of key (ExpiredObjectDeleteMarker; tag and size filters cannot apply to
// a marker, validation refuses them with it).
func (cfg *LifecycleConfig) cleansMarkers(key string) (string, bool) {
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if r.Enabled && r.Expiration != nil && r.Expiration.ExpiredObjectDeleteMarker && strings.HasPrefix(key, r.Filter.Prefix) {
			return r.ID, true
		}
	}
	return "", false
}

// noncurrentExpiry is when the rules remove a noncurrent version that
// became noncurrent at since and has newer noncurrent versions newer of
// them; ok is false when no rule does.
func (cfg *LifecycleConfig) noncurrentExpiry(key string, size int64, tags map[string]string, since time.Time, newer int) (due time.Time, rule string, ok bool) {
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		ne := r.NoncurrentExpiration
		if !r.Enabled || ne == nil || !r.Filter.matches(key, size, tags) {
			continue
		}
		if newer < ne.NewerNoncurrentVersions {
			continue // one of the versions this rule keeps
		}
		at := afterDays(since, ne.NoncurrentDays)
		if !ok || at.Before(due) {
			due, rule, ok = at, r.ID, true
		}
	}
	return due, rule, ok
}

// abortAfter is when the rules abort an upload of key initiated at
// created; ok is false when none does.
func (cfg *LifecycleConfig) abortAfter(key string, created time.Time) (due time.Time, rule string, ok bool) {
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !r.Enabled || r.AbortUploadDays <= 0 || !strings.HasPrefix(key, r.Filter.Prefix) {
			continue
		}
		at := afterDays(created, r.AbortUploadDays)
		if !ok || at.Before(due) {
			due, rule, ok = at, r.ID, true
		}
	}
	return due, rule, ok
}

// hasUploadRules reports whether any enabled rule aborts uploads.
func (cfg *LifecycleConfig) hasUploadRules() bool {
	for i := range cfg.Rules {
		if cfg.Rules[i].Enabled && cfg.Rules[i].AbortUploadDays > 0 {
			return true
		}
	}
	return false
}

// withExpiration fills info's Expiration from the container's rules: set
// on the latest version of a key that a rule will expire.
func (e *Engine) withExpiration(info *ArtifactInfo, c metastore.Container) {
	cfg := e.lc.cache.get(c.Config[LifecycleConfigName])
	if cfg == nil || info.DeleteMarker {
		return
	}
	if due, rule, ok := cfg.expiry(info.Key, info.Size, info.Tags, info.Modified); ok {
		info.Expiration = &Expiration{Date: due, RuleID: rule}
	}
}

// Expiration is when a lifecycle rule will expire an artifact (S3's
// x-amz-expiration header).
type Expiration struct {
	Date   time.Time
	RuleID string
}
