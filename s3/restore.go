package s3

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// restoreRequestXML is the body of RestoreObject. Only Days is honoured:
// a restore makes a local erasure-coded copy of a version on a cold tier
// (docs/design.md, "Cold tiers"); Tier (Standard, Bulk, Expedited) only
// says how fast, and every restore here is as fast as the tier allows.
type restoreRequestXML struct {
	XMLName xml.Name `xml:"RestoreRequest"`
	Days    string   `xml:"Days"`
	Type    string   `xml:"Type"`
	Tier    string   `xml:"GlacierJobParameters>Tier"`
}

// restoreObject answers POST /bucket/key?restore: 202 when a restore
// starts, 200 when the version was restored already (its expiry moves),
// 409 RestoreAlreadyInProgress, 403 InvalidObjectState for a version not
// on a cold tier.
func (s *Server) restoreObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	days, err := parseRestoreXML(data)
	if err != nil {
		return err
	}
	res, err := s.eng.RestoreVersion(ctx, rc.tenant, ref.Container, ref.Key, ref.VersionID, days)
	if err != nil {
		return s.versionWriteError(w, err)
	}
	if res.Already {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusAccepted)
	}
	return nil
}

// maxRestoreDays is S3's limit on RestoreRequest Days.
const maxRestoreDays = 30000

// parseRestoreXML reads a RestoreRequest and returns its Days.
func parseRestoreXML(data []byte) (int, error) {
	var in restoreRequestXML
	if err := decodeXML(data, &in); err != nil {
		return 0, err
	}
	if in.Type != "" {
		return 0, withMessage(errNotImplemented, "SELECT restores are not implemented")
	}
	switch in.Tier {
	case "", "Standard", "Bulk", "Expedited":
	default:
		return 0, errMalformedXML
	}
	days, err := strconv.Atoi(strings.TrimSpace(in.Days))
	if err != nil || days < 1 || days > maxRestoreDays {
		return 0, withMessage(errInvalidArgument, "Days must be a whole number from 1 to %d", maxRestoreDays)
	}
	return days, nil
}
