package ocr

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/image/tiff"
)

// TIFF is read here only as far as its structure goes: the chain of image
// file directories (IFDs, one per page), each page's dimensions and where
// its data lies. Decoding the pixels is left to tesseract (leptonica and
// libtiff), which knows every compression scanners use, while Go's TIFF
// decoder knows only some and reads the first page only.

// maxTIFFPages bounds the IFD chain, so that a hostile file cannot make
// Inspect walk millions of directories.
const maxTIFFPages = 10_000

// maxTIFFChunks bounds the strips or tiles of one page.
const maxTIFFChunks = 1 << 20

// TIFF tags and field types used here.
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagStripOffsets    = 273
	tagStripByteCounts = 279
	tagTileOffsets     = 324
	tagTileByteCounts  = 325

	typeShort = 3
	typeLong  = 4
)

// tiffPage is one page (IFD) of a TIFF file.
type tiffPage struct {
	ifd           int64 // offset of the IFD
	nextField     int64 // offset of the IFD's pointer to the next one
	width, height int64
}

// tiffFile is a TIFF file's page chain.
type tiffFile struct {
	order binary.ByteOrder
	pages []tiffPage
}

// tiffPages reads the page chain of the TIFF at path and checks every page:
// its dimensions against MaxPixels and its data against the file's end,
// which is how a truncated TIFF shows.
func (e *Engine) tiffPages(path string) ([]tiffPage, error) {
	tf, err := readTIFF(path)
	if err != nil {
		return nil, err
	}
	for i, p := range tf.pages {
		if err := e.checkPixels(p.width, p.height); err != nil {
			var de *DocumentError
			if errors.As(err, &de) {
				de.Msg = fmt.Sprintf("page %d: %s", i+1, de.Msg)
			}
			return nil, err
		}
	}
	return tf.pages, nil
}

// tiffPage OCRs one page of a TIFF. tesseract reads every page of a TIFF
// it is given, so a page of a multi-page file is first copied into a file
// of its own: the same bytes, with the header pointing at that page's IFD
// and the IFD's next pointer cleared. Nothing is re-encoded, so any
// compression tesseract reads survives.
func (e *Engine) tiffPage(ctx context.Context, path string, page int, lang string) (Page, error) {
	tf, err := readTIFF(path)
	if err != nil {
		return Page{}, err
	}
	if page > len(tf.pages) {
		return Page{}, fmt.Errorf("the TIFF has %d pages: %w", len(tf.pages), ErrPageRange)
	}
	p := tf.pages[page-1]
	if err := e.checkPixels(p.width, p.height); err != nil {
		return Page{}, err
	}
	input := path
	if len(tf.pages) > 1 {
		dir, err := e.tempDir()
		if err != nil {
			return Page{}, err
		}
		defer removeAll(dir)
		input = filepath.Join(dir, "page.tif")
		if err := writeTIFFPage(path, input, tf.order, p); err != nil {
			return Page{}, err
		}
	}
	if blank, err := e.blankTIFF(input); err != nil {
		return Page{}, err
	} else if blank {
		return Page{Number: page, Text: "", Method: MethodBlank}, nil
	}
	text, err := e.ocr(ctx, input, lang, 0)
	var de *DocumentError
	if len(tf.pages) > 1 && errors.As(err, &de) && de.Kind == KindUnreadable {
		// The other pages of the file may well decode: only this one is
		// lost.
		return Page{}, &PageError{Page: page, Kind: KindPageUnreadable, Msg: de.Msg}
	}
	if err != nil {
		return Page{}, err
	}
	return Page{Number: page, Text: text, Method: MethodOCR}, nil
}

// blankTIFF runs the blank check on a single-page TIFF when Go's decoder
// (golang.org/x/image/tiff) reads it: uncompressed, LZW, Deflate, PackBits
// and CCITT fax pages, which are what scanners mostly write. A page it
// cannot decode (JPEG-in-TIFF, say) is left to tesseract, which reads
// more, and is not blank as far as this check goes.
func (e *Engine) blankTIFF(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open tiff: %w", err)
	}
	defer f.Close()
	img, err := tiff.Decode(bufio.NewReader(f))
	if err != nil {
		return false, nil
	}
	return e.isBlankPage(img, 0), nil
}

// writeTIFFPage copies src to dst and makes page p its only page.
func writeTIFFPage(src, dst string, order binary.ByteOrder, p tiffPage) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open tiff: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create tiff page: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write tiff page: %w", cerr)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy tiff page: %w", err)
	}
	var b [4]byte
	order.PutUint32(b[:], uint32(p.ifd))
	if _, err := out.WriteAt(b[:], 4); err != nil {
		return fmt.Errorf("write tiff page: %w", err)
	}
	order.PutUint32(b[:], 0)
	if _, err := out.WriteAt(b[:], p.nextField); err != nil {
		return fmt.Errorf("write tiff page: %w", err)
	}
	return nil
}

// readTIFF reads the header and IFD chain of a classic (32-bit offset)
// TIFF. Any inconsistency is KindUnreadable; no IFD at all is KindEmpty.
func readTIFF(path string) (tiffFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return tiffFile{}, fmt.Errorf("open tiff: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return tiffFile{}, fmt.Errorf("stat tiff: %w", err)
	}
	r := &tiffReader{r: f, size: st.Size()}
	var hdr [8]byte
	if err := r.read(hdr[:], 0); err != nil {
		return tiffFile{}, err
	}
	switch string(hdr[:4]) {
	case string(magicTIFFLE):
		r.order = binary.LittleEndian
	case string(magicTIFFBE):
		r.order = binary.BigEndian
	default:
		return tiffFile{}, docErr(KindUnreadable, "not a TIFF file")
	}
	tf := tiffFile{order: r.order}
	seen := map[int64]bool{}
	for off := int64(r.order.Uint32(hdr[4:])); off != 0; {
		if seen[off] {
			return tiffFile{}, docErr(KindUnreadable, "the TIFF's pages form a loop")
		}
		if len(tf.pages) == maxTIFFPages {
			return tiffFile{}, docErr(KindUnreadable, "the TIFF has more than %d pages", maxTIFFPages)
		}
		seen[off] = true
		p, next, err := r.ifd(off)
		if err != nil {
			var de *DocumentError
			if errors.As(err, &de) {
				de.Msg = fmt.Sprintf("page %d: %s", len(tf.pages)+1, de.Msg)
			}
			return tiffFile{}, err
		}
		tf.pages = append(tf.pages, p)
		off = next
	}
	if len(tf.pages) == 0 {
		return tiffFile{}, docErr(KindEmpty, "the TIFF has no pages")
	}
	return tf, nil
}

// tiffReader reads a TIFF's structures with bounds checks.
type tiffReader struct {
	r     io.ReaderAt
	size  int64
	order binary.ByteOrder
}

// read fills b from offset off; running past the end means the file is
// truncated (or the offset is garbage), either way unreadable.
func (t *tiffReader) read(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > t.size {
		return docErr(KindUnreadable, "the TIFF is truncated or damaged (offset %d beyond its %d bytes)", off, t.size)
	}
	if _, err := t.r.ReadAt(b, off); err != nil {
		return fmt.Errorf("read tiff: %w", err)
	}
	return nil
}

// ifd reads the IFD at off: the page's dimensions, a check that its image
// data lies within the file, and the offset of the next IFD.
func (t *tiffReader) ifd(off int64) (tiffPage, int64, error) {
	var b2 [2]byte
	if err := t.read(b2[:], off); err != nil {
		return tiffPage{}, 0, err
	}
	n := int64(t.order.Uint16(b2[:]))
	entries := make([]byte, n*12+4)
	if err := t.read(entries, off+2); err != nil {
		return tiffPage{}, 0, err
	}
	p := tiffPage{ifd: off, nextField: off + 2 + n*12}
	var offsets, counts []int64
	var tiled bool
	for i := int64(0); i < n; i++ {
		ent := entries[i*12 : i*12+12]
		tag := t.order.Uint16(ent[0:])
		var err error
		switch tag {
		case tagImageWidth:
			p.width, err = t.scalar(ent)
		case tagImageLength:
			p.height, err = t.scalar(ent)
		case tagStripOffsets:
			offsets, err = t.values(ent)
		case tagStripByteCounts:
			counts, err = t.values(ent)
		case tagTileOffsets:
			offsets, err = t.values(ent)
			tiled = true
		case tagTileByteCounts:
			counts, err = t.values(ent)
		}
		if err != nil {
			return tiffPage{}, 0, err
		}
	}
	if p.width <= 0 || p.height <= 0 {
		return tiffPage{}, 0, docErr(KindUnreadable, "the TIFF page has no dimensions")
	}
	if len(offsets) == 0 || len(offsets) != len(counts) {
		kind := "strip"
		if tiled {
			kind = "tile"
		}
		return tiffPage{}, 0, docErr(KindUnreadable, "the TIFF page's %s table is missing or inconsistent", kind)
	}
	for i := range offsets {
		if offsets[i]+counts[i] > t.size {
			return tiffPage{}, 0, docErr(KindUnreadable, "the TIFF is truncated (page data ends at %d, the file at %d)", offsets[i]+counts[i], t.size)
		}
	}
	return p, int64(t.order.Uint32(entries[n*12:])), nil
}

// scalar reads a single SHORT or LONG entry.
func (t *tiffReader) scalar(ent []byte) (int64, error) {
	v, err := t.values(ent)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, docErr(KindUnreadable, "the TIFF has a malformed dimension field")
	}
	return v[0], nil
}

// values reads the SHORT or LONG values of an IFD entry, which are in the
// entry itself when they fit in 4 bytes and at an offset otherwise.
func (t *tiffReader) values(ent []byte) ([]int64, error) {
	typ, count := t.order.Uint16(ent[2:]), int64(t.order.Uint32(ent[4:]))
	var size int64
	switch typ {
	case typeShort:
		size = 2
	case typeLong:
		size = 4
	default:
		return nil, docErr(KindUnreadable, "the TIFF has a field of unexpected type %d", typ)
	}
	if count == 0 || count > maxTIFFChunks {
		return nil, docErr(KindUnreadable, "the TIFF has a field with %d values", count)
	}
	data := ent[8:12]
	if count*size > 4 {
		data = make([]byte, count*size)
		if err := t.read(data, int64(t.order.Uint32(ent[8:]))); err != nil {
			return nil, err
		}
	}
	out := make([]int64, count)
	for i := range out {
		if size == 2 {
			out[i] = int64(t.order.Uint16(data[i*2:]))
		} else {
			out[i] = int64(t.order.Uint32(data[i*4:]))
		}
	}
	return out, nil
}
