package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/node"
)

// Drive slots.
//
// Each --drive is a slot: a path, and the ID of the drive it holds. The
// node keeps the table in --data/drives.json. A slot whose directory is
// found blank at startup (a replaced disk) gets the slot's ID written
// into it, and its heal job rebuilds what the slot held; "heal": true in
// the table marks a replacement whose heal job is not yet recorded, so a
// crash between the format and the job's first save does not lose it.
// "--drive id=ID,path=DIR" names the slot's ID explicitly (a replacement
// of a node whose table is lost, or drives named by the operator).

const slotsFile = "drives.json"

// slotTable is drives.json.
type slotTable struct {
	Version int    `json:"version"`
	Slots   []slot `json:"slots"`
}

type slot struct {
	Path string `json:"path"`
	ID   string `json:"id"`
	Heal bool   `json:"heal,omitempty"`
}

// driveSpec is one --drive value.
type driveSpec struct{ id, path string }

// parseDriveSpec parses "DIR" or "id=ID,path=DIR" (either order).
func parseDriveSpec(v string) (driveSpec, error) {
	if !strings.Contains(v, "=") {
		if v == "" {
			return driveSpec{}, errors.New("--drive: empty path")
		}
		return driveSpec{path: v}, nil
	}
	var s driveSpec
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok || val == "" || seen[k] {
			return driveSpec{}, fmt.Errorf("--drive %q: want DIR or id=ID,path=DIR", v)
		}
		seen[k] = true
		switch k {
		case "id":
			s.id = val
		case "path":
			s.path = val
		default:
			return driveSpec{}, fmt.Errorf("--drive %q: unknown key %q (id, path)", v, k)
		}
	}
	if s.path == "" {
		return driveSpec{}, fmt.Errorf("--drive %q: no path=", v)
	}
	if s.id != "" && (len(s.id) > 128 || strings.ContainsFunc(s.id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	})) {
		return driveSpec{}, fmt.Errorf("--drive %q: id must be 1-128 characters of A-Z, a-z, 0-9 and ._-", v)
	}
	return s, nil
}

// joinDriveSpecs undoes the comma split of a list in the environment
// (VAULTAIRE_DRIVE=id=a,path=/x,id=b,path=/y): an "id=" or "path="
// element whose partner follows is joined with it.
func joinDriveSpecs(vals []string) []string {
	var out []string
	for i := 0; i < len(vals); i++ {
		v := vals[i]
		if i+1 < len(vals) && !strings.Contains(v, ",") {
			a, b := strings.HasPrefix(v, "id="), strings.HasPrefix(vals[i+1], "path=")
			c, d := strings.HasPrefix(v, "path="), strings.HasPrefix(vals[i+1], "id=")
			if a && b || c && d {
				v += "," + vals[i+1]
				i++
			}
		}
		out = append(out, v)
	}
	return out
}

func loadSlots(path string) (slotTable, error) {
	t := slotTable{Version: 1}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err == nil && t.Version != 1 {
		err = fmt.Errorf("version %d, this release reads 1", t.Version)
	}
	if err != nil {
		return t, fmt.Errorf("drive slot table %s: %w", path, err)
	}
	return t, nil
}

func saveSlots(path string, t slotTable) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(path, string(b)+"\n")
}

// openedDrives are the node's open drives and the slots to heal.
type openedDrives struct {
	drives []node.Drive
	heal   []string // IDs of replaced drives whose heal job is to start
	table  slotTable
	path   string
	closed []*local.Drive
}

func (o *openedDrives) close() {
	for _, d := range o.closed {
		d.Close()
	}
}

// healStarted clears the "heal" marks once the jobs are recorded.
func (o *openedDrives) healStarted() error {
	for i := range o.table.Slots {
		o.table.Slots[i].Heal = false
	}
	return saveSlots(o.path, o.table)
}

// openDrives opens the --drive slots (or 4 default folders under --data):
// each keeps its identity in its own format file, so placement survives
// reordered flags and remounted disks, and a blank directory in a known
// slot is a replacement, formatted under the slot's ID and to be healed.
func openDrives(f serverFlags, nodeID string, log *slog.Logger) (*openedDrives, error) {
	var specs []driveSpec
	for _, v := range joinDriveSpecs(f.drives) {
		s, err := parseDriveSpec(v)
		if err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 {
		for i := 1; i <= 4; i++ {
			specs = append(specs, driveSpec{path: filepath.Join(f.data, "drives", fmt.Sprintf("d%d", i))})
		}
	}
	o := &openedDrives{path: filepath.Join(f.data, slotsFile)}
	table, err := loadSlots(o.path)
	if err != nil {
		return nil, err
	}
	known := map[string]slot{}
	for _, s := range table.Slots {
		known[s.Path] = s
	}
	var dirs []string
	for i := range specs {
		abs, err := filepath.Abs(specs[i].path)
		if err != nil {
			return nil, err
		}
		specs[i].path = abs
		dirs = append(dirs, abs)
	}
	next := slotTable{Version: 1}
	for _, s := range specs {
		prev, wasKnown := known[s.path]
		id := s.id
		if id == "" {
			id = prev.ID
		} else if wasKnown && prev.ID != id {
			o.close()
			return nil, fmt.Errorf("drive %s: the slot held drive %q, --drive names %q (edit %s to reassign it)", s.path, prev.ID, id, o.path)
		}
		blank, err := local.Blank(s.path)
		if err != nil {
			o.close()
			return nil, fmt.Errorf("drive %s: %w", s.path, err)
		}
		dir := s.path
		d, err := local.New(local.Config{
			Dir:         dir,
			ID:          id,
			Siblings:    dirs,
			AllowRootFS: f.allowRootFS,
			Logger:      log.With("component", "drive"),
			OnOffline: func(id string, err error) {
				log.Error("drive offline", "drive", id, "dir", dir, "err", err)
			},
		})
		if err != nil {
			o.close()
			return nil, fmt.Errorf("drive %s: %w", dir, err)
		}
		o.closed = append(o.closed, d)
		o.drives = append(o.drives, node.Drive{ID: d.ID(), Node: nodeID, Driver: d})
		heal := prev.Heal || (blank && wasKnown && d.Formatted())
		if heal {
			log.Warn("replaced drive adopted into its slot; its heal job rebuilds what the slot held", "drive", d.ID(), "dir", dir)
			o.heal = append(o.heal, d.ID())
		}
		next.Slots = append(next.Slots, slot{Path: s.path, ID: d.ID(), Heal: heal})
	}
	o.table = next
	if err := saveSlots(o.path, next); err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}
