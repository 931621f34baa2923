// Package local is the drivers.Driver of one local drive: a directory,
// normally the mount point (or a subdirectory of it) of one disk.
//
// # On-disk layout
//
//	<Dir>/
//	  format.json   drive identity, written once at the first New:
//	                {"format":"vaultaire-drive","version":1,"id":"<Config.ID>"}
//	  LOCK          flock(2)ed by the one Drive (process) using the directory
//	  data/<name>   one regular file per object; the slashes of the object
//	                name are directories ("ab/cd/blob.3" is data/ab/cd/blob.3)
//	  tmp/<random>  Puts in flight and health probes; everything here is
//	                garbage after a crash and is removed by New
//
// Only regular files are objects: directories, and symlinks or other files
// someone else put under data/, are never listed, opened (O_NOFOLLOW) or
// deleted. Object files hold the object's bytes and nothing else: integrity
// (checksums) is the business of the layers above (package erasure frames
// shard files with per-block checksums). Directories under data/ exist only
// while they hold an object: Delete prunes the ones it empties.
//
// The format file makes the layout versioned (a later release that changes
// it bumps "version" and migrates or refuses old drives) and ties the
// directory to a drive ID, so a disk mounted at the wrong path, or drives
// swapped between paths, fail New with ErrDriveMismatch instead of serving
// someone else's shards.
//
// # Durability
//
// Put streams into tmp/<random> through a bounded buffer (1 MiB, aligned;
// a stream longer than one buffer is written with O_DIRECT, which skips the
// page cache's copy: direct.go), makes the file durable with fdatasync,
// renames it to data/<name> (creating missing parent directories, fsyncing
// the parent of each new one), then fsyncs the object's directory. When Put
// returns nil the object survives a crash; until the rename nothing is
// visible under name, so a crash mid-write leaves only a temp file and a
// failed or cancelled Put removes its temp file itself. An overwrite
// replaces the whole file at once (rename), and a reader that opened the
// old version keeps reading the old version.
//
// # Health
//
// An I/O error that means the drive itself failed (EIO, EROFS, ENXIO,
// EACCES, the root directory gone or replaced by a file, and any error not
// known to be harmless) marks the drive offline: OnOffline is called once,
// Usage reports Online false with the cause, and every other call fails
// with drivers.ErrOffline wrapping the cause until Recheck succeeds in
// probing the drive (format file check, then write, fsync, read back and
// delete a probe file). Harmless errors do not: a missing object is
// drivers.ErrNotFound, a full disk (ENOSPC, EDQUOT) is drivers.ErrFull,
// a name too long for the file system is drivers.ErrInvalidName, and
// process limits (EMFILE, ENFILE, ENOMEM) or a caller's failing reader
// are returned as they are. Nothing a drive does makes the process panic.
//
// # Slots and replacement
//
// A drive directory is a slot with a stable ID (slot.go). A blank
// directory opened with the slot's ID (Config.ID) is formatted under it,
// and Adopt does the same for a disk swapped while the process runs
// (after Hold, through Release): shard records naming the old drive then
// resolve to the replacement, which the node's heal job fills. A blank
// directory on the root file system is not formatted while a sibling
// drive is a separate mount (ErrRootFS; Config.AllowRootFS overrides): it
// is most likely a disk that failed to mount.
package local
