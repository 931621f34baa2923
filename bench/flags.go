package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Options is a parsed `vaultaire bench` command line: the run's Config and
// what the command does around it.
type Options struct {
	Config Config
	// OutDir, when set, receives result.json, result.csv, series.csv and
	// result.svg.
	OutDir string
	// Sink runs the benchmark against an in-process Sink on 127.0.0.1
	// (the client-side ceiling) instead of Config.Endpoint.
	Sink bool
	// Progress is "auto" (a live line when stderr is a terminal),
	// "always" or "never".
	Progress string
	// Verbose logs the phases of the run to stderr.
	Verbose bool
}

// envFallbacks lists, for each flag that has them, the environment
// variables consulted in order when the flag is not on the command line.
var envFallbacks = map[string][]string{
	"endpoint":      {"VAULTAIRE_BENCH_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"},
	"region":        {"VAULTAIRE_BENCH_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"},
	"access-key":    {"VAULTAIRE_BENCH_ACCESS_KEY", "AWS_ACCESS_KEY_ID"},
	"secret-key":    {"VAULTAIRE_BENCH_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"},
	"session-token": {"VAULTAIRE_BENCH_SESSION_TOKEN", "AWS_SESSION_TOKEN"},
	"path-style":    {"VAULTAIRE_BENCH_PATH_STYLE"},
	"insecure":      {"VAULTAIRE_BENCH_INSECURE"},
	"ca-file":       {"VAULTAIRE_BENCH_CA_FILE", "AWS_CA_BUNDLE"},
}

const usageHead = `Usage: vaultaire bench [flags]
       vaultaire bench compare A.json B.json
       vaultaire bench plot result.json [-o file.svg]

Measures an S3 endpoint: throughput (ops/s, MiB/s with MiB = 2^20 bytes),
latency percentiles (p50/p90/p99/max; time to first byte for GET) and errors
by kind, per operation, with a per-second time series. Every GET is verified
byte for byte against what was written. A fresh bucket vaultaire-bench-<random>
is created and emptied and deleted afterwards, unless --bucket or --keep.

Workloads (--workload):
  put        PUT new artifacts of --size
  get        GET (and verify) --keys artifacts written before measuring
  mixed      GET/PUT/DELETE/STAT on --keys artifacts in the proportions of --mix
  list       page through a prefix of --keys artifacts (one op = one page)
  multipart  upload artifacts of --size in parts of --part-size
  refused    PUT artifacts of --size into a missing bucket: the cost of a
             refusal (each answer must be NoSuchBucket)

Sizes: 4096, 4KiB, 1MiB, 1MB (10^6), 1.5GiB, 64k (K/M/G/T are binary);
a range 1MiB..64MiB draws each size uniformly at random.

Several --endpoint URLs (the nodes of one cluster) spread the requests over
them round-robin, so reads also check writes made through another node.

Endpoint, region and credentials: a flag wins; without it the environment
variables below are consulted in the order given; then the default.
  --endpoint       VAULTAIRE_BENCH_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
  --region         VAULTAIRE_BENCH_REGION, AWS_REGION, AWS_DEFAULT_REGION (default us-east-1)
  --access-key     VAULTAIRE_BENCH_ACCESS_KEY, AWS_ACCESS_KEY_ID
  --secret-key     VAULTAIRE_BENCH_SECRET_KEY, AWS_SECRET_ACCESS_KEY
  --session-token  VAULTAIRE_BENCH_SESSION_TOKEN, AWS_SESSION_TOKEN
  --path-style     VAULTAIRE_BENCH_PATH_STYLE
  --insecure       VAULTAIRE_BENCH_INSECURE
  --ca-file        VAULTAIRE_BENCH_CA_FILE, AWS_CA_BUNDLE
Shared AWS config and credential files are not read.

Exit status: 0 when the run completed, 1 when it failed or any GET, HEAD or
listing returned wrong data, 2 on bad usage, 130 when interrupted.

Flags:
`

// endpointList is the repeatable --endpoint flag: each use appends one or
// more comma-separated URLs.
type endpointList []string

func (l *endpointList) String() string { return strings.Join(*l, ",") }

func (l *endpointList) Set(v string) error {
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			*l = append(*l, e)
		}
	}
	return nil
}

// ParseArgs parses the flags of `vaultaire bench` (without the
// subcommand), consulting getenv for the fallbacks listed in the usage.
// Usage and errors are printed to output. It returns flag.ErrHelp for
// -h/--help and an error wrapping ErrBadConfig (or the flag package's
// error) for bad input; every config problem is reported at once.
func ParseArgs(args []string, getenv func(string) string, output io.Writer) (Options, error) {
	fs := flag.NewFlagSet("vaultaire bench", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, usageHead)
		fs.PrintDefaults()
	}
	d := DefaultConfig()
	var endpoints endpointList
	fs.Var(&endpoints, "endpoint", "S3 endpoint `URL`, http(s)://host:port; repeat (or separate with commas) for several nodes of one store, used round-robin")
	var (
		region       = fs.String("region", d.Region, "region to sign requests for")
		accessKey    = fs.String("access-key", "", "access key id")
		secretKey    = fs.String("secret-key", "", "secret access key")
		sessionToken = fs.String("session-token", "", "session token (temporary credentials)")
		pathStyle    = fs.Bool("path-style", true, "path-style addressing (endpoint/bucket/key); false for virtual-hosted (bucket.endpoint/key)")
		insecure     = fs.Bool("insecure", false, "skip TLS certificate verification")
		caFile       = fs.String("ca-file", "", "PEM file of extra root certificates")
		signPayload  = fs.Bool("sign-payload", false, "sign the SHA-256 of every body instead of UNSIGNED-PAYLOAD (costs client CPU)")
		checksums    = fs.Bool("checksums", false, "let the SDK send CRC32 request checksums and validate response checksums")
		retries      = fs.Int("retries", 0, "SDK retries per request (0: every failure counts as an error)")
		workload     = fs.String("workload", string(d.Workload), "put, get, mixed, list, multipart or refused")
		mix          = fs.String("mix", d.Mix.String(), "mixed workload weights: get=N,put=N,delete=N,stat=N")
		size         = fs.String("size", "", "artifact size or uniform range lo..hi (default 1MiB; list 0; multipart 64MiB)")
		concurrency  = fs.Int("concurrency", d.Concurrency, "workers, each with one request in flight")
		duration     = fs.Duration("duration", 0, "measure this long (default 30s unless --ops)")
		ops          = fs.Int64("ops", 0, "stop after this many operations (0: no limit)")
		keys         = fs.Int("keys", d.Keys, "artifacts written before measuring, for get, mixed and list")
		partSize     = fs.String("part-size", FormatSize(d.PartSize), "multipart part size (at least 5MiB)")
		partConc     = fs.Int("part-concurrency", d.PartConcurrency, "parts of one multipart upload in flight")
		pageSize     = fs.Int("list-page-size", d.ListPageSize, "max-keys of each ListObjectsV2 request (1..1000)")
		opTimeout    = fs.Duration("op-timeout", d.OpTimeout, "time limit of one operation")
		bucket       = fs.String("bucket", "", "use this existing bucket (artifacts are still removed unless --keep)")
		prefix       = fs.String("prefix", "", "key prefix (default bench-<run id>/)")
		keep         = fs.Bool("keep", false, "leave the artifacts and the bucket in place")
		seed         = fs.Uint64("seed", 0, "seed of content and choices (0: random)")
		outDir       = fs.String("out", "", "write result.json, result.csv, series.csv and result.svg into this directory")
		sink         = fs.Bool("sink", false, "benchmark an in-process sink on 127.0.0.1 that stores nothing (the client-side ceiling)")
		progress     = fs.String("progress", "auto", "live status line: auto (when stderr is a terminal), always or never")
		verbose      = fs.Bool("verbose", false, "log the phases of the run to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("%w: unexpected argument %q", ErrBadConfig, fs.Arg(0))
		fmt.Fprintln(output, err)
		return Options{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	if !*sink {
		names := make([]string, 0, len(envFallbacks))
		for name := range envFallbacks {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			envs := envFallbacks[name]
			if set[name] {
				continue
			}
			for _, env := range envs {
				if v := getenv(env); v != "" {
					if err := fs.Set(name, v); err != nil {
						errs = append(errs, fmt.Errorf("%w: %s=%q: %v", ErrBadConfig, env, v, err))
					}
					break
				}
			}
		}
	} else if set["endpoint"] {
		errs = append(errs, fmt.Errorf("%w: --sink and --endpoint exclude each other", ErrBadConfig))
	}

	cfg := d
	if len(endpoints) > 0 {
		cfg.Endpoint = endpoints[0]
	}
	if len(endpoints) > 1 {
		cfg.ExtraEndpoints = endpoints[1:]
	}
	cfg.Region = *region
	cfg.AccessKey, cfg.SecretKey, cfg.SessionToken = *accessKey, *secretKey, *sessionToken
	cfg.PathStyle, cfg.Insecure, cfg.CAFile = *pathStyle, *insecure, *caFile
	cfg.SignPayload, cfg.Checksums, cfg.Retries = *signPayload, *checksums, *retries
	cfg.Concurrency, cfg.Duration, cfg.Ops, cfg.Keys = *concurrency, *duration, *ops, *keys
	cfg.PartConcurrency, cfg.ListPageSize, cfg.OpTimeout = *partConc, *pageSize, *opTimeout
	cfg.Bucket, cfg.Prefix, cfg.Keep, cfg.Seed = *bucket, *prefix, *keep, *seed
	var err error
	if cfg.Workload, err = ParseWorkload(*workload); err != nil {
		errs = append(errs, err)
	}
	if cfg.Mix, err = ParseMix(*mix); err != nil {
		errs = append(errs, fmt.Errorf("--mix: %w", err))
	}
	if set["mix"] && cfg.Workload != WorkloadMixed {
		errs = append(errs, fmt.Errorf("%w: --mix is for --workload mixed", ErrBadConfig))
	}
	if *size != "" {
		if cfg.Size, err = ParseSizeSpec(*size); err != nil {
			errs = append(errs, fmt.Errorf("--size: %w", err))
		}
	} else {
		cfg.Size = DefaultSize(cfg.Workload)
	}
	if cfg.PartSize, err = ParseSize(*partSize); err != nil {
		errs = append(errs, fmt.Errorf("--part-size: %w", err))
	}
	if *concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: --concurrency must be at least 1", ErrBadConfig))
	}
	if *keys < 1 {
		errs = append(errs, fmt.Errorf("%w: --keys must be at least 1", ErrBadConfig))
	}
	if *pageSize < 1 {
		errs = append(errs, fmt.Errorf("%w: --list-page-size must be at least 1", ErrBadConfig))
	}
	if *partConc < 1 {
		errs = append(errs, fmt.Errorf("%w: --part-concurrency must be at least 1", ErrBadConfig))
	}
	if *opTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: --op-timeout must be positive", ErrBadConfig))
	}
	switch *progress {
	case "auto", "always", "never":
	default:
		errs = append(errs, fmt.Errorf("%w: --progress %q: want auto, always or never", ErrBadConfig, *progress))
	}
	if *sink {
		// Filled in when the sink starts; set here so Validate passes.
		cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.PathStyle = "http://127.0.0.1:0", "bench", "bench", true
	}
	if len(errs) == 0 {
		if err := cfg.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		fmt.Fprintf(output, "vaultaire bench: %s\n(see vaultaire bench -h)\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return Options{}, err
	}
	return Options{Config: cfg, OutDir: *outDir, Sink: *sink, Progress: *progress, Verbose: *verbose}, nil
}
