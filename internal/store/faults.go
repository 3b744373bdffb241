package store

// Fault-injection points. A test sets Options.Faults to make the store fail at one of
// these steps of a write, the way a full disk or an I/O error would; production code
// leaves Options.Faults nil and none of this has any effect.
//
// An original's Put goes through: create, write, sync, close (its metadata's temp file),
// create, write, sync, close (the original's temp file), mkdir (the shard directory, if
// missing), rename (metadata into place), rename (original into place, the commit
// point), then syncdir for each directory whose entries changed. A rendition's Put goes
// through: create, write (header), write (payload), sync, close, chtimes (its LRU clock),
// mkdir (shard and per-original directories, if missing), rename (the commit point), then
// syncdir.
const (
	FaultCreate  = "create"  // creating a temp file in tmp/
	FaultWrite   = "write"   // each write into a temp file; half the bytes are written first
	FaultSync    = "sync"    // fsync of a temp file
	FaultClose   = "close"   // closing a temp file (the file is closed; the error is reported)
	FaultChtimes = "chtimes" // setting a rendition temp file's mtime
	FaultMkdir   = "mkdir"   // creating a shard or rendition directory
	FaultRename  = "rename"  // renaming a temp file into place
	FaultSyncDir = "syncdir" // fsync of a directory after a commit
)

// fault consults Options.Faults before the write step op.
func (d *Disk) fault(op string) error {
	if d.faults == nil {
		return nil
	}
	return d.faults(op)
}

// rename renames a temp file into place, after consulting Options.Faults.
func (d *Disk) rename(oldname, newname string) error {
	if err := d.fault(FaultRename); err != nil {
		return err
	}
	return d.root.Rename(oldname, newname)
}
