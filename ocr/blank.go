package ocr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strconv"
)

// Blank pages are recognised from their pixels before tesseract runs:
// scanned documents are full of them (backs of single-sided sheets,
// separator pages), and tesseract spends seconds on a blank page only to
// return nothing, or a few characters of noise.
//
// The page is shrunk by averaging to about blankDPI, where a block is
// about a third of a millimetre: a scanner speck of a few pixels fades
// into its block while a letter's stroke still darkens whole blocks. A
// block is ink when it differs from the page's background (the median
// block, so that a uniformly gray or dark page is its own background) by
// more than blankContrast, lighter or darker, so that white text on a
// dark page counts too. Ink blocks are grouped into marks (8-connected);
// a mark of at least blankMinMark blocks is something a reader could see
// (the stem of an "l" in 10 pt text is about 8), and a page without one
// is blank. The check reads each pixel once and costs a few milliseconds
// for a letter page at 300 DPI, against a second or more for tesseract.
const (
	// blankDPI is the resolution the page is examined at.
	blankDPI = 75
	// blankContrast is how far from the background, in gray levels, a
	// block must be to be ink: more than a quarter of the range, which a
	// 2 x 2 pixel speck in a 4 x 4 block (300 DPI) does not reach.
	blankContrast = 80
	// blankMinMark is the fewest blocks of a mark that makes a page
	// not blank. Clusters of specks reach 2 or 3; a letter, 8 or more.
	blankMinMark = 6
)

// MethodBlank is the Page.Method of a page found blank from its pixels;
// its Text is "" and tesseract did not run on it.
const MethodBlank = "blank"

// blankStats is what the blank check found on a page.
type blankStats struct {
	// factor is the side of a block, in pixels.
	factor int
	// blocks is the number of blocks; background their median level.
	blocks     int
	background uint8
	// inkBlocks counts the blocks that differ from the background;
	// marks the marks of at least blankMinMark blocks, and largest the
	// largest mark's blocks.
	inkBlocks, marks, largest int
}

// blank reports whether the page is blank.
func (s blankStats) blank() bool { return s.marks == 0 }

// analyseBlank examines img, a page scanned or rendered at dpi (0 when
// unknown: it is then estimated from the page's size), for blankness.
func analyseBlank(img image.Image, dpi int) blankStats {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return blankStats{factor: 1}
	}
	if dpi <= 0 {
		// Most pages are letter or A4, about 11 inches on their long
		// side. A smaller image (a receipt, a crop) is then taken for a
		// low resolution, which makes its specks count: the safe side.
		dpi = max(w, h) / 11
	}
	f := max(1, (dpi+blankDPI/2)/blankDPI)
	bw, bh := (w+f-1)/f, (h+f-1)/f
	levels := make([]uint8, bw*bh)
	sums := make([]uint32, bw)
	row := rowReader(img)
	buf := make([]byte, w)
	for by := range bh {
		clear(sums)
		y0, y1 := by*f, min(by*f+f, h)
		for y := y0; y < y1; y++ {
			px := row(b.Min.Y+y, buf)
			for bx := range bw {
				var s uint32
				for _, v := range px[bx*f : min(bx*f+f, w)] {
					s += uint32(v)
				}
				sums[bx] += s
			}
		}
		for bx := range bw {
			n := uint32((min(bx*f+f, w) - bx*f) * (y1 - y0))
			levels[by*bw+bx] = uint8(sums[bx] / n)
		}
	}

	var hist [256]int
	for _, v := range levels {
		hist[v]++
	}
	st := blankStats{factor: f, blocks: len(levels)}
	for v, seen := 0, 0; v < 256; v++ {
		if seen += hist[v]; 2*seen >= len(levels) {
			st.background = uint8(v)
			break
		}
	}
	ink := make([]bool, len(levels))
	for i, v := range levels {
		if d := int(v) - int(st.background); d > blankContrast || d < -blankContrast {
			ink[i] = true
			st.inkBlocks++
		}
	}

	// Flood-fill each mark, clearing its blocks as they are counted.
	var stack []int
	for start := range ink {
		if !ink[start] {
			continue
		}
		ink[start] = false
		stack = append(stack[:0], start)
		size := 0
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			x, y := i%bw, i/bw
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= bw || ny >= bh {
						continue
					}
					if j := ny*bw + nx; ink[j] {
						ink[j] = false
						stack = append(stack, j)
					}
				}
			}
		}
		st.largest = max(st.largest, size)
		if size >= blankMinMark {
			st.marks++
		}
	}
	return st
}

// rowReader returns a function giving row y of img as gray levels, in buf
// or in img's own memory. Scanners and renderers produce gray, YCbCr
// (JPEG) and RGB images, which are read directly; anything else goes
// through color.GrayModel, pixel by pixel, which is slower but correct.
func rowReader(img image.Image) func(y int, buf []byte) []byte {
	b := img.Bounds()
	w := b.Dx()
	switch m := img.(type) {
	case *image.Gray:
		return func(y int, _ []byte) []byte {
			off := m.PixOffset(b.Min.X, y)
			return m.Pix[off : off+w]
		}
	case *image.YCbCr:
		return func(y int, _ []byte) []byte {
			off := m.YOffset(b.Min.X, y)
			return m.Y[off : off+w]
		}
	case *image.Gray16:
		return func(y int, buf []byte) []byte {
			off := m.PixOffset(b.Min.X, y)
			for x := range w {
				buf[x] = m.Pix[off+2*x] // the high byte
			}
			return buf
		}
	case *image.RGBA:
		return rgbRows(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Min.Y, w)
	case *image.NRGBA:
		return rgbRows(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Min.Y, w)
	case *image.Paletted:
		lut := make([]byte, 256)
		for i, c := range m.Palette {
			lut[i] = color.GrayModel.Convert(c).(color.Gray).Y
		}
		return func(y int, buf []byte) []byte {
			off := m.PixOffset(b.Min.X, y)
			for x, p := range m.Pix[off : off+w] {
				buf[x] = lut[p]
			}
			return buf
		}
	}
	return func(y int, buf []byte) []byte {
		for x := range w {
			buf[x] = color.GrayModel.Convert(img.At(b.Min.X+x, y)).(color.Gray).Y
		}
		return buf
	}
}

// rgbRows reads rows of 8-bit RGBA pixels (alpha ignored) as luma, with
// the weights color.GrayModel uses; origin is the offset of the first
// row's first pixel, row minY.
func rgbRows(pix []byte, stride, origin, minY, w int) func(y int, buf []byte) []byte {
	return func(y int, buf []byte) []byte {
		off := origin + (y-minY)*stride
		for x := range w {
			p := pix[off+4*x : off+4*x+3]
			buf[x] = uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
		}
		return buf
	}
}

// errNotPGM is returned (wrapped) by parsePGM for data that is not the
// 8-bit binary PGM pdftoppm -gray writes.
var errNotPGM = errors.New("not an 8-bit binary PGM")

// parsePGM reads an 8-bit binary PGM (P5), pdftoppm's output with -gray,
// as an image sharing data's memory.
func parsePGM(data []byte) (*image.Gray, error) {
	rest, ok := bytes.CutPrefix(data, []byte("P5"))
	if !ok {
		return nil, errNotPGM
	}
	var fields [3]int
	for i := range fields {
		// Skip white space and comments before each number.
		for len(rest) > 0 {
			if c := rest[0]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				rest = rest[1:]
			} else if c == '#' {
				if j := bytes.IndexByte(rest, '\n'); j >= 0 {
					rest = rest[j:]
				} else {
					rest = nil
				}
			} else {
				break
			}
		}
		end := 0
		for end < len(rest) && end < 10 && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(string(rest[:end]))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: bad header", errNotPGM)
		}
		fields[i], rest = n, rest[end:]
	}
	w, h, maxval := fields[0], fields[1], fields[2]
	// One white space character ends the header.
	if maxval != 255 || len(rest) == 0 {
		return nil, fmt.Errorf("%w: maxval %d", errNotPGM, maxval)
	}
	rest = rest[1:]
	if int64(len(rest)) != int64(w)*int64(h) {
		return nil, fmt.Errorf("%w: %d bytes of pixels for %d x %d", errNotPGM, len(rest), w, h)
	}
	return &image.Gray{Pix: rest, Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
}
