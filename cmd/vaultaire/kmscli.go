package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/vaultaire/vaultaire/node"
)

// runKMS is the "kms" noun of the admin CLI.
func (c *adminClient) runKMS(ctx context.Context, verb string, args []string, asJSON bool, out io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: kms %s takes no arguments", errUsage, verb)
	}
	if verb != "rotate" {
		return fmt.Errorf("%w: unknown kms command %q (rotate)", errUsage, verb)
	}
	raw, err := c.do(ctx, http.MethodPost, "/admin/v1/kms/rotate", nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(raw)
		return err
	}
	var rep node.RotateReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	_, err = fmt.Fprintf(out, "key-encryption key %d -> %d: %d data keys re-wrapped in %d records (%d changed meanwhile, left as written)\n",
		rep.From, rep.To, rep.Rewrapped, rep.Records, rep.Skipped)
	return err
}
