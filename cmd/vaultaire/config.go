package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
)

// envName is the environment variable that sets a flag: --raft-address is
// VAULTAIRE_RAFT_ADDRESS.
func envName(flagName string) string {
	return "VAULTAIRE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyConfig fills every flag not given on the command line from the
// environment, then from the config file (if any), keeping the documented
// precedence: flag > environment > file > default. Repeatable flags take a
// comma-separated list from the environment or file.
func applyConfig(fs *flag.FlagSet, file string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fileVals := map[string]string{}
	if file != "" {
		var err error
		if fileVals, err = readConfigFile(file); err != nil {
			return err
		}
		for name := range fileVals {
			if fs.Lookup(name) == nil {
				return fmt.Errorf("config %s: unknown setting %q", file, name)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		src := envName(f.Name)
		if !ok {
			v, ok = fileVals[f.Name]
			src = file
		}
		if !ok {
			return
		}
		vals := []string{v}
		if _, repeat := f.Value.(*listFlag); repeat {
			vals = strings.Split(v, ",")
		}
		for _, x := range vals {
			if e := f.Value.Set(strings.TrimSpace(x)); e != nil {
				err = fmt.Errorf("%s: invalid value %q for %s: %w", src, x, f.Name, e)
				return
			}
		}
	})
	return err
}

// readConfigFile reads "name = value" lines; # starts a comment.
func readConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config %s:%d: want name = value", path, n)
		}
		out[strings.TrimSpace(name)] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return out, sc.Err()
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
