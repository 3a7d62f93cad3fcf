// Package testdocs makes documents with known text for tests, the
// history recorder and benchmarks: text rendered to images with the Go
// font, and PDFs with a text layer or scanned-image pages. Nothing is read
// from disk, so no binary fixture has to be trusted or kept in sync.
package testdocs

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var (
	goRegularOnce sync.Once
	goRegular     *opentype.Font
	goRegularErr  error
)

// Face returns Go Regular at px pixels per em.
func Face(px float64) (font.Face, error) {
	goRegularOnce.Do(func() { goRegular, goRegularErr = opentype.Parse(goregular.TTF) })
	if goRegularErr != nil {
		return nil, goRegularErr
	}
	return opentype.NewFace(goRegular, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
}

// Render draws lines in black on white at px pixels per em, with a margin
// of one em, like a page scanned at roughly 300 DPI for px≈40.
func Render(lines []string, px float64) (*image.Gray, error) {
	f, err := Face(px)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	margin := int(px)
	lineHeight := int(px * 1.6)
	width := 0
	for _, l := range lines {
		width = max(width, font.MeasureString(f, l).Ceil())
	}
	img := image.NewGray(image.Rect(0, 0, width+2*margin, len(lines)*lineHeight+2*margin))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.Black, Face: f}
	for i, l := range lines {
		d.Dot = fixed.P(margin, margin+i*lineHeight+int(px))
		d.DrawString(l)
	}
	return img, nil
}

// PNG renders lines (see Render) and encodes them as PNG.
func PNG(lines []string, px float64) ([]byte, error) {
	img, err := Render(lines, px)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Page is one page of a PDF made by PDF.
type Page struct {
	// Text is written as a text layer in Helvetica, from the top left.
	Text []string
	// Image is drawn as a scanned page at 300 DPI, at the bottom left.
	Image *image.Gray
	// Size is the page's size in points; zero means letter, or the image's size.
	Size [2]float64
}

// PDF writes a minimal PDF 1.4 by hand: objects, an exact xref table and a
// trailer, so that poppler opens it without repairs. No pages makes a PDF
// with an empty page tree.
func PDF(pages []Page) []byte {
	objs := map[int][]byte{}
	nextNum := 4 // 1 catalog, 2 page tree, 3 font
	alloc := func() int { nextNum++; return nextNum - 1 }
	stream := func(dict string, data []byte) []byte {
		return fmt.Appendf(nil, "<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
	}
	var kids []string
	for _, p := range pages {
		w, h := 612.0, 792.0
		var content bytes.Buffer
		var resources []string
		if p.Image != nil {
			w = float64(p.Image.Rect.Dx()) * 72 / 300
			h = float64(p.Image.Rect.Dy()) * 72 / 300
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			// Writes to a bytes.Buffer cannot fail.
			_, _ = zw.Write(p.Image.Pix)
			_ = zw.Close()
			im := alloc()
			objs[im] = stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
				p.Image.Rect.Dx(), p.Image.Rect.Dy()), z.Bytes())
			resources = append(resources, fmt.Sprintf("/XObject << /Im0 %d 0 R >>", im))
			fmt.Fprintf(&content, "q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q\n", w, h)
		}
		if p.Size[0] > 0 {
			w, h = p.Size[0], p.Size[1]
		}
		if len(p.Text) > 0 {
			resources = append(resources, "/Font << /F1 3 0 R >>")
			fmt.Fprintf(&content, "BT /F1 12 Tf 16 TL 36 %.2f Td\n", h-24)
			for _, l := range p.Text {
				esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(l)
				fmt.Fprintf(&content, "(%s) Tj T*\n", esc)
			}
			content.WriteString("ET\n")
		}
		c := alloc()
		objs[c] = stream("", content.Bytes())
		pg := alloc()
		objs[pg] = fmt.Appendf(nil, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << %s >> /Contents %d 0 R >>",
			w, h, strings.Join(resources, " "), c)
		kids = append(kids, fmt.Sprintf("%d 0 R", pg))
	}
	objs[1] = []byte("<< /Type /Catalog /Pages 2 0 R >>")
	objs[2] = fmt.Appendf(nil, "<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids))
	objs[3] = []byte("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")

	var buf bytes.Buffer
	buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, nextNum)
	for n := 1; n < nextNum; n++ {
		offsets[n] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", n, objs[n])
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", nextNum)
	for n := 1; n < nextNum; n++ {
		fmt.Fprintf(&buf, "%010d 00000 n \n", offsets[n])
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", nextNum, xref)
	return buf.Bytes()
}

// DamageImage returns pdf (from PDF) with the image data of its n-th image
// (1-based, in page order) damaged in place: 64 bytes after the zlib header
// of its Flate stream are flipped, its length unchanged, so that the
// document opens as before and only that image fails to decode, as a bad
// sector or a broken scanner driver leaves one page of a scan. The first
// deflate block's header and code tables lie there, where damage is always
// detected; in the middle of a block it can decode to other pixels without
// complaint.
func DamageImage(pdf []byte, n int) ([]byte, error) {
	out := append([]byte(nil), pdf...)
	at := 0
	for range n {
		i := bytes.Index(out[at:], []byte("/Subtype /Image"))
		if i < 0 {
			return nil, fmt.Errorf("the PDF has fewer than %d images", n)
		}
		at += i + 1
	}
	start := at + bytes.Index(out[at:], []byte("stream\n")) + len("stream\n")
	end := at + bytes.Index(out[at:], []byte("\nendstream"))
	if end-start <= 128 {
		return nil, fmt.Errorf("image %d's stream is too short to damage", n)
	}
	for i := start + 2; i < start+2+64; i++ {
		out[i] ^= 0x5A
	}
	return out, nil
}
