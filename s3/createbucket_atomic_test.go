package s3_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
)

// configDown is a real engine whose container sub-resource writes fail,
// as a crash or a lost leader between two commands would make them.
type configDown struct{ *node.Engine }

func (configDown) SetContainerConfig(context.Context, string, string, string, string) error {
	return errors.New("injected: the node stopped before this command")
}

// TestCreateBucketOwnershipAndACLAtomic: CreateBucket's
// x-amz-object-ownership and ACL grants are written by the command that
// creates the bucket, so no failure after it can leave the bucket with
// the default ownership: here every later container write fails, and the
// bucket still comes with its ownership and grants.
func TestCreateBucketOwnershipAndACLAtomic(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{})
	if _, err := n.Engine.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
		t.Fatal(err)
	}
	srv, err := s3.New(s3.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, configDown{n.Engine})
	must(t, err)
	h := &harness{node: n, eng: n.Engine, cred: n.Cred, srv: srv, plain: serveHarness(t, srv, nil, nil)}
	c := h.client(false)
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("own"), ObjectOwnership: types.ObjectOwnershipObjectWriter,
		GrantRead: aws.String(`id="acme"`), GrantFullControl: aws.String(`id="root"`)})
	must(t, err)
	oc, err := c.GetBucketOwnershipControls(ctx, &awss3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	must(t, err)
	if got := oc.OwnershipControls.Rules[0].ObjectOwnership; got != types.ObjectOwnershipObjectWriter {
		t.Fatalf("ownership %q", got)
	}
	acl, err := c.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("own")})
	must(t, err)
	var readByAcme bool
	for _, g := range acl.Grants {
		readByAcme = readByAcme || (aws.ToString(g.Grantee.ID) == "acme" && g.Permission == types.PermissionRead)
	}
	if !readByAcme {
		t.Fatalf("grants %+v", acl.Grants)
	}
	// The injected fault is real: a separate ownership change fails.
	_, err = c.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("own"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred}}}})
	wantCode(t, err, "InternalError")
	// The defaults write nothing extra.
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("plain")})
	must(t, err)
	if v, err := n.Engine.ContainerConfig(ctx, node.RootTenant, "plain", "ownership"); err != nil || v != "" {
		t.Fatalf("default bucket ownership record %q %v", v, err)
	}
}
