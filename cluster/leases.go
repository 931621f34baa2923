package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Read leases across the cluster: before a node deletes the blob of a
// replaced or deleted artifact, it asks its peers whether a read of theirs
// still streams it (node/gc.go).
//
//	GET /rpc/leases?blob=ID    200 {"held": bool}

// RegisterLeases serves the read-lease query on mux; held reports whether
// a reader on this node streams the blob.
func RegisterLeases(mux *http.ServeMux, held func(blobID string) bool) {
	mux.Handle("GET /rpc/leases", handle(func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		id := r.URL.Query().Get("blob")
		if id == "" || len(id) > 128 || strings.ContainsAny(id, "/\x00") {
			return fmt.Errorf("%w: bad blob id", errBadRequest)
		}
		writeJSON(w, struct {
			Held bool `json:"held"`
		}{held(id)})
		return nil
	}))
}

// BlobLeased asks the node at addr (its RPC host:port) whether a read
// there streams the blob.
func BlobLeased(ctx context.Context, client *http.Client, addr, blobID string) (bool, error) {
	u := url.URL{Scheme: "https", Host: addr, Path: "/rpc/leases", RawQuery: url.Values{"blob": {blobID}}.Encode()}
	req, err := newRequest(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, readError(resp)
	}
	var out struct {
		Held bool `json:"held"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return out.Held, nil
}
