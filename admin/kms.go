package admin

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
)

// The key-encryption key rotation of server-side encryption; the CLI noun
// "kms" (cmd/vaultaire) calls it.
//
//	POST /admin/v1/kms/rotate  make a new KEK current and re-wrap every SSE-S3 data key under it (node.RotateReport)

// kmsAdmin serves /admin/v1/kms.
type kmsAdmin struct {
	eng *node.Engine
}

func (ka *kmsAdmin) register(r *httprouter.Router, api *adminAPI) {
	r.POST("/admin/v1/kms/rotate", api.serve("RotateKEK", ka.rotate))
}

func (ka *kmsAdmin) rotate(ctx context.Context, call *adminCall) (int, any, error) {
	rep, err := ka.eng.RotateKEK(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}
