package testdocs

import (
	"bytes"
	"encoding/binary"
	"image"
)

// TIFFPage is one page for TIFF. A nil Img with W, H set makes a hostile
// page that declares W x H pixels and holds a single byte of data.
type TIFFPage struct {
	Img  *image.Gray
	W, H uint32
}

// TIFF writes a multi-page TIFF (uncompressed 8-bit gray, 300 DPI, one
// strip per page), which golang.org/x/image/tiff cannot: its encoder
// writes a single image. Each page's pixels are followed by its IFD.
func TIFF(order binary.ByteOrder, pages []TIFFPage) []byte {
	var buf bytes.Buffer
	if order == binary.ByteOrder(binary.BigEndian) {
		buf.WriteString("MM\x00*")
	} else {
		buf.WriteString("II*\x00")
	}
	u16 := func(v uint16) { _ = binary.Write(&buf, order, v) }
	u32 := func(v uint32) { _ = binary.Write(&buf, order, v) }
	patch := func(at int, v uint32) { order.PutUint32(buf.Bytes()[at:], v) }
	next := 4 // where the pointer to the next IFD goes
	u32(0)
	for _, p := range pages {
		w, h, pix := p.W, p.H, []byte{0xff}
		if p.Img != nil {
			w, h, pix = uint32(p.Img.Rect.Dx()), uint32(p.Img.Rect.Dy()), p.Img.Pix
		}
		data := buf.Len()
		buf.Write(pix)
		res := buf.Len() // XResolution and YResolution share one RATIONAL
		u32(300)
		u32(1)
		if buf.Len()%2 == 1 {
			buf.WriteByte(0)
		}
		patch(next, uint32(buf.Len()))
		type entry struct {
			tag, typ uint16
			val      uint32
		}
		const short, long, rational = 3, 4, 5
		entries := []entry{
			{256, long, w}, {257, long, h}, {258, short, 8}, {259, short, 1},
			{262, short, 1}, {273, long, uint32(data)}, {277, short, 1},
			{278, long, h}, {279, long, uint32(len(pix))},
			{282, rational, uint32(res)}, {283, rational, uint32(res)}, {296, short, 2},
		}
		u16(uint16(len(entries)))
		for _, e := range entries {
			u16(e.tag)
			u16(e.typ)
			u32(1)
			if e.typ == short {
				u16(uint16(e.val))
				u16(0)
			} else {
				u32(e.val)
			}
		}
		next = buf.Len()
		u32(0)
	}
	return buf.Bytes()
}
