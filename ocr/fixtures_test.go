package ocr_test

// Fixture generators: every document the tests read is made here, from
// text the tests know, so that no binary fixture needs to be trusted or
// kept in sync.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/tools/testdocs"
)

// Page texts with digits and punctuation, distinct so that a page mix-up
// shows as a high error rate.
var (
	textA = []string{
		"The quick brown fox jumps over the lazy dog.",
		"Invoice 4821 was issued on 12 March 2024.",
		"Total amount due: 1375 euros and 50 cents.",
	}
	textB = []string{
		"Pack my box with five dozen liquor jugs.",
		"Sphinx of black quartz, judge my vow.",
		"Order number 99017 left the warehouse today.",
	}
	textC = []string{
		"How vexingly quick daft zebras jump!",
		"The meeting moved from room 204 to room 310.",
		"Please reply before the end of the month.",
	}
)

// renderText draws lines in black on white at px pixels per em, with a
// margin of one em, like a scanned page at roughly 300 DPI for px≈40.
func renderText(t testing.TB, lines []string, px float64) *image.Gray {
	t.Helper()
	img, err := testdocs.Render(lines, px)
	require.NoError(t, err)
	return img
}

// rotate turns img by deg degrees about its centre (bilinear sampling) onto
// a white canvas large enough to hold it, as a skewed scan would be.
func rotate(img *image.Gray, deg float64) *image.Gray {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	sin, cos := math.Sincos(deg * math.Pi / 180)
	nw := int(math.Ceil(math.Abs(w*cos) + math.Abs(h*sin)))
	nh := int(math.Ceil(math.Abs(w*sin) + math.Abs(h*cos)))
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	cx, cy := w/2, h/2
	ncx, ncy := float64(nw)/2, float64(nh)/2
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= b.Dx() || y >= b.Dy() {
			return 255
		}
		return float64(img.GrayAt(b.Min.X+x, b.Min.Y+y).Y)
	}
	for y := range nh {
		for x := range nw {
			// Inverse mapping: where in the source does this pixel come from.
			dx, dy := float64(x)+0.5-ncx, float64(y)+0.5-ncy
			sx := cos*dx + sin*dy + cx - 0.5
			sy := -sin*dx + cos*dy + cy - 0.5
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) +
				at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
			out.SetGray(x, y, color.Gray{Y: uint8(math.Round(v))})
		}
	}
	return out
}

// downscale shrinks img by an integer factor, averaging each block, as a
// low-resolution scan or fax blurs small print.
func downscale(img *image.Gray, factor int) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()/factor, b.Dy()/factor))
	for y := range out.Rect.Dy() {
		for x := range out.Rect.Dx() {
			sum := 0
			for j := range factor {
				for i := range factor {
					sum += int(img.GrayAt(b.Min.X+x*factor+i, b.Min.Y+y*factor+j).Y)
				}
			}
			out.SetGray(x, y, color.Gray{Y: uint8(sum / (factor * factor))})
		}
	}
	return out
}

// speckle adds salt-and-pepper noise: n random specks of 1 to 3 pixels,
// dark on the paper and light on the ink, from a fixed seed.
func speckle(img *image.Gray, seed uint64, n int) *image.Gray {
	out := image.NewGray(img.Bounds())
	copy(out.Pix, img.Pix)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := out.Bounds()
	for range n {
		x, y, size := b.Min.X+rng.IntN(b.Dx()), b.Min.Y+rng.IntN(b.Dy()), 1+rng.IntN(3)
		v := uint8(0)
		if out.GrayAt(x, y).Y < 128 {
			v = 255
		}
		for j := range size {
			for i := range size {
				out.SetGray(x+i, y+j, color.Gray{Y: v})
			}
		}
	}
	return out
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}))
	return buf.Bytes()
}

// writeFile writes data into a fresh file in a test temp dir.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// pngHeader is a PNG of only a signature, an IHDR declaring w x h 8-bit
// gray pixels and an IEND: enough for image.DecodeConfig, nothing more.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.Write([]byte("\x89PNG\r\n\x1a\n"))
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		buf.Write(body)
		_ = binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0)
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return buf.Bytes()
}

// pdfPage is one page for makePDF: text drawn in Helvetica (a text
// layer), an image covering the page at 300 DPI (a scan), or both.
type pdfPage struct {
	text []string
	img  *image.Gray
	// size is the page's size in points; zero means letter, or the
	// image's size. The image is drawn at the bottom left, text from the
	// top left.
	size [2]float64
}

// makePDF writes a PDF of pages; see testdocs.PDF.
func makePDF(t testing.TB, pages []pdfPage) []byte {
	t.Helper()
	out := make([]testdocs.Page, len(pages))
	for i, p := range pages {
		out[i] = testdocs.Page{Text: p.text, Image: p.img, Size: p.size}
	}
	return testdocs.PDF(out)
}

// encryptPDF encrypts the PDF at src with qpdf (AES-256), which
// scripts/deps.sh installs for this purpose only. An empty user password
// makes a PDF that opens freely but is still encrypted; restrictions are
// qpdf's options such as --extract=n.
func encryptPDF(t testing.TB, src, userPassword string, restrictions ...string) string {
	t.Helper()
	qpdf, err := exec.LookPath("qpdf")
	require.NoError(t, err, "qpdf is needed to make encrypted PDFs: run scripts/deps.sh")
	dst := filepath.Join(t.TempDir(), "encrypted.pdf")
	args := append([]string{"--encrypt", userPassword, "owner-secret", "256"}, restrictions...)
	out, err := exec.Command(qpdf, append(args, "--", src, dst)...).CombinedOutput()
	require.NoError(t, err, "qpdf: %s", out)
	return dst
}

// cer is the character error rate of got against want: their Levenshtein
// distance over want's length, after folding case and collapsing white
// space (layout is not what is measured).
func cer(want, got string) float64 {
	norm := func(s string) []rune { return []rune(strings.Join(strings.Fields(strings.ToLower(s)), " ")) }
	a, b := norm(want), norm(got)
	if len(a) == 0 {
		return float64(len(b))
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(b)]) / float64(len(a))
}

// Letter size at 300 DPI, the size of a scanned page.
const letterW, letterH = 2550, 3300

// letterPage is a letter-sized page at 300 DPI of gray level bg, with img
// (which may be nil) drawn at its top left, as a scanner delivers a page
// with a few lines on it.
func letterPage(img *image.Gray, bg uint8) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, letterW, letterH))
	for i := range out.Pix {
		out.Pix[i] = bg
	}
	if img != nil {
		b := img.Bounds()
		for y := range min(b.Dy(), letterH) {
			for x := range min(b.Dx(), letterW) {
				if v := img.GrayAt(b.Min.X+x, b.Min.Y+y).Y; v < bg {
					out.SetGray(x, y, color.Gray{Y: v})
				}
			}
		}
	}
	return out
}

// grain adds uniform noise of amplitude ±amp to every pixel, as a scanner's
// sensor does on a page of any tone, from a fixed seed.
func grain(img *image.Gray, seed uint64, amp int) *image.Gray {
	out := image.NewGray(img.Bounds())
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i, v := range img.Pix {
		out.Pix[i] = uint8(min(255, max(0, int(v)+rng.IntN(2*amp+1)-amp)))
	}
	return out
}

// denseLines is a page full of text: 36 lines, about 1800 characters.
func denseLines() []string {
	var lines []string
	for range 4 {
		lines = append(lines, textA...)
		lines = append(lines, textB...)
		lines = append(lines, textC...)
	}
	return lines
}

// damageImage is testdocs.DamageImage, failing the test on a PDF it
// cannot damage.
func damageImage(t testing.TB, pdf []byte, n int) []byte {
	t.Helper()
	out, err := testdocs.DamageImage(pdf, n)
	require.NoError(t, err)
	return out
}

// bigDenseLines is a page of 108 lines, far more than a page holds at
// 10 pt: tesseract takes many seconds over it, long enough to be
// interrupted or to time out well before it finishes.
func bigDenseLines() []string {
	var lines []string
	for range 3 {
		lines = append(lines, denseLines()...)
	}
	return lines
}

// lzwTIFF is testdocs.TIFF of pages with page n (1-based) claiming LZW
// compression for its uncompressed pixels: its structure is sound (Inspect
// accepts it) but its data does not decompress, as a page damaged by a
// faulty scanner driver.
func lzwTIFF(t testing.TB, pages []testdocs.TIFFPage, n int) []byte {
	t.Helper()
	data := testdocs.TIFF(binary.LittleEndian, pages)
	// The Compression entry as testdocs writes it: tag 259, SHORT, one
	// value, 1 (none).
	entry := []byte{0x03, 0x01, 0x03, 0x00, 0x01, 0, 0, 0, 0x01, 0x00}
	at := -1
	for range n {
		i := bytes.Index(data[at+1:], entry)
		require.GreaterOrEqual(t, i, 0, "the TIFF has fewer than %d pages", n)
		at += 1 + i
	}
	data[at+8] = 5 // LZW
	return data
}
