package metastore

// Record extensions (doc.go, "Records"). A version-2 record is its
// version-1 fields followed by an extension section:
//
//	count  uvarint
//	count times: tag uvarint, value (length-prefixed bytes)
//
// with tags strictly ascending. Each value is the encoding of one field
// (or a small group of fields that only make sense together). A record
// whose extension fields all hold their zero value is written as version
// 1, byte for byte what the first release wrote, so a cluster that uses no
// new feature keeps state the previous release can read; the cluster
// version keeps the features that set them off until every node can.
//
// Tags are the on-disk format: never renumber. Each record type lists its
// tags beside its encoder (recordcodec.go), by feature area.

// extField is one field of an extension section.
type extField struct {
	tag uint64
	val []byte
}

// extFields collects the non-zero fields of a record, in ascending tag
// order.
type extFields []extField

// add appends field tag, encoded by enc. Callers add tags in ascending
// order and only for non-zero values.
func (f *extFields) add(tag uint64, enc func(e *encoder)) {
	e := encoder{}
	enc(&e)
	*f = append(*f, extField{tag: tag, val: e.b})
}

// write appends the section.
func (f extFields) write(e *encoder) {
	e.uvarint(uint64(len(f)))
	for _, x := range f {
		e.uvarint(x.tag)
		e.bytes(x.val)
	}
}

// readExt reads an extension section, calling field with each tag and a
// decoder over its value. field returns false for a tag it does not know:
// the record comes from a newer release, and the section fails as
// ErrCorrupt (never silently dropped). Each value must be read exactly.
func readExt(d *decoder, field func(tag uint64, v *decoder) bool) {
	n := d.count(2)
	var last uint64
	for i := 0; i < n && d.err == nil; i++ {
		tag := d.uvarint()
		val := d.span()
		if d.err != nil {
			return
		}
		if i > 0 && tag <= last {
			d.fail()
			return
		}
		last = tag
		v := decoder{b: val}
		if !field(tag, &v) || v.done() != nil {
			d.fail()
			return
		}
	}
}
