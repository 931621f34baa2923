package admin

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
)

// The drives' admin API (this node's drives); the CLI noun "drive"
// (cmd/vaultaire) calls it.
//
//	GET  /admin/v1/drives              every drive: state, usage, heal job ([]node.DriveStatus)
//	GET  /admin/v1/drives/:id          one drive (node.DriveStatus)
//	POST /admin/v1/drives/:id/heal     start its heal job (202)
//	POST /admin/v1/drives/:id/offline  take it offline until "online" (the disk can be pulled)
//	POST /admin/v1/drives/:id/online   bring it back: a blank replacement is adopted and healed
//	GET  /admin/v1/blobs/:id           the records that reference a blob ({"blob", "owners"}; none: garbage)

// driveIDRe bounds drive IDs in paths (drivers/local generates
// "drive-<hex>"; --drive id= names are the operator's).
var driveIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// drivesAdmin serves /admin/v1/drives.
type drivesAdmin struct {
	eng *node.Engine
}

func (da *drivesAdmin) register(r *httprouter.Router, api *adminAPI) {
	r.GET("/admin/v1/drives", api.serve("ListDrives", da.list))
	r.GET("/admin/v1/drives/:id", api.serve("GetDrive", da.get))
	r.POST("/admin/v1/drives/:id/heal", api.serve("HealDrive", da.heal))
	r.POST("/admin/v1/drives/:id/offline", api.serve("DriveOffline", da.offline))
	r.POST("/admin/v1/drives/:id/online", api.serve("DriveOnline", da.online))
	r.GET("/admin/v1/blobs/:id", api.serve("GetBlobOwners", da.blobOwners))
}

// blobIDRe bounds blob IDs in paths (node generates 32 hex digits).
var blobIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// BlobOwners is the answer of GET /admin/v1/blobs/:id.
type BlobOwners struct {
	Blob string `json:"blob"`
	// Owners name the records that reference the blob; empty: garbage.
	Owners []string `json:"owners"`
}

func (da *drivesAdmin) blobOwners(ctx context.Context, call *adminCall) (int, any, error) {
	id := call.p.ByName("id")
	if !blobIDRe.MatchString(id) {
		return 0, nil, badRequest("InvalidBlobID", "a blob id is 32 lower-case hex digits (the directory under blobs/<2>/ on a drive)")
	}
	owners, err := da.eng.BlobOwners(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, BlobOwners{Blob: id, Owners: owners}, nil
}

func driveParam(c *adminCall) (string, error) {
	id := c.p.ByName("id")
	if !driveIDRe.MatchString(id) {
		return "", badRequest("InvalidDriveID", "drive id must be 1-128 characters of A-Z, a-z, 0-9 and ._-")
	}
	return id, nil
}

// driveErr answers the drive operations' errors.
func driveErr(err error) error {
	switch {
	case errors.Is(err, node.ErrNoSuchDrive):
		return &Error{Status: http.StatusNotFound, Code: "NoSuchDrive", Message: "no drive of this node has that id"}
	case errors.Is(err, node.ErrDriveOp):
		return &Error{Status: http.StatusConflict, Code: "DriveOperationUnsupported", Message: "the drive does not support this operation"}
	}
	return err
}

func (da *drivesAdmin) list(ctx context.Context, call *adminCall) (int, any, error) {
	return http.StatusOK, da.eng.Drives(ctx), nil
}

func (da *drivesAdmin) get(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := driveParam(call)
	if err != nil {
		return 0, nil, err
	}
	st, err := da.eng.DriveStatus(ctx, id)
	if err != nil {
		return 0, nil, driveErr(err)
	}
	return http.StatusOK, st, nil
}

func (da *drivesAdmin) heal(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := driveParam(call)
	if err != nil {
		return 0, nil, err
	}
	if err := da.eng.HealDrive(id); err != nil {
		return 0, nil, driveErr(err)
	}
	st, _ := da.eng.DriveStatus(ctx, id)
	return http.StatusAccepted, st, nil
}

func (da *drivesAdmin) offline(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := driveParam(call)
	if err != nil {
		return 0, nil, err
	}
	if err := da.eng.HoldDrive(id); err != nil {
		return 0, nil, driveErr(err)
	}
	st, _ := da.eng.DriveStatus(ctx, id)
	return http.StatusOK, st, nil
}

func (da *drivesAdmin) online(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := driveParam(call)
	if err != nil {
		return 0, nil, err
	}
	if err := da.eng.ReleaseDrive(ctx, id); err != nil {
		if errors.Is(err, node.ErrNoSuchDrive) || errors.Is(err, node.ErrDriveOp) {
			return 0, nil, driveErr(err)
		}
		// Why the drive cannot come back (not blank, on the root file
		// system, failing its probe) is the operator's to read.
		return 0, nil, &Error{Status: http.StatusConflict, Code: "DriveNotOnline", Message: err.Error()}
	}
	st, _ := da.eng.DriveStatus(ctx, id)
	return http.StatusOK, st, nil
}
