package local

import (
	"encoding/json"
	"fmt"
)

const (
	// formatName marks a directory as a Vaultaire drive.
	formatName = "vaultaire-drive"
	// formatVersion is the layout version this package writes and reads.
	formatVersion = 1
	// maxFormatSize bounds how much of a format file is read: it is a few
	// dozen bytes, and a huge file there is not ours.
	maxFormatSize = 64 << 10
)

// format is the content of <Dir>/format.json.
type format struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	ID      string `json:"id"`
}

func encodeFormat(id string) []byte {
	b, err := json.Marshal(format{Format: formatName, Version: formatVersion, ID: id})
	if err != nil {
		panic(err) // cannot happen: a struct of strings and an int
	}
	return append(b, '\n')
}

// decodeFormat parses a format file and returns the drive ID it holds.
func decodeFormat(b []byte) (string, error) {
	if len(b) > maxFormatSize {
		return "", fmt.Errorf("%w: format file of %d bytes", ErrFormat, len(b))
	}
	var f format
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("%w: %v", ErrFormat, err)
	}
	switch {
	case f.Format != formatName:
		return "", fmt.Errorf("%w: format %q, want %q", ErrFormat, f.Format, formatName)
	case f.Version != formatVersion:
		return "", fmt.Errorf("%w: layout version %d, this release reads %d", ErrFormat, f.Version, formatVersion)
	case f.ID == "":
		return "", fmt.Errorf("%w: no drive id", ErrFormat)
	}
	return f.ID, nil
}
