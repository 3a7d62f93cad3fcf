package ocr_test

import (
	"context"
	"encoding/binary"
	"image"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/ocr"
	"github.com/docket-dev/docket/tools/testdocs"
)

// Scanned pages for the blank check, each a letter page at 300 DPI.
var (
	// shortLine is a page's only line: a title, a page of "Page 7" or a
	// signature line must never be taken for blank.
	shortLine = []string{"Page 7"}
	// specks covers about 0.6% of a page with 1 to 3 pixel specks, the
	// noise of a dirty scanner glass (TestPageTextAccuracy reads text
	// through as much).
	specks = letterW * letterH / 800
)

type blankFixture struct {
	name  string
	page  func(t testing.TB) *image.Gray
	blank bool
	// want is the text expected of a page that is not blank, checked
	// when not nil.
	want []string
}

func blankFixtures() []blankFixture {
	return []blankFixture{
		{"white", func(t testing.TB) *image.Gray { return letterPage(nil, 255) }, true, nil},
		{"white with sensor grain", func(t testing.TB) *image.Gray { return grain(letterPage(nil, 245), 1, 10) }, true, nil},
		{"noisy (specks and grain)", func(t testing.TB) *image.Gray {
			return grain(speckle(letterPage(nil, 250), 7, specks), 2, 5)
		}, true, nil},
		{"uniformly gray", func(t testing.TB) *image.Gray { return grain(letterPage(nil, 160), 3, 12) }, true, nil},
		{"dark gray", func(t testing.TB) *image.Gray { return grain(letterPage(nil, 60), 4, 12) }, true, nil},
		{"one short line", func(t testing.TB) *image.Gray { return letterPage(renderText(t, shortLine, 40), 255) }, false, shortLine},
		{"one short line, noisy", func(t testing.TB) *image.Gray {
			return speckle(letterPage(renderText(t, shortLine, 40), 255), 9, specks)
		}, false, nil}, // tesseract reads some of the specks as text
		{"one line on gray", func(t testing.TB) *image.Gray {
			return grain(letterPage(renderText(t, []string{title}, 40), 170), 5, 8)
		}, false, []string{title}},
		{"dense", func(t testing.TB) *image.Gray { return letterPage(renderText(t, denseLines(), 40), 255) }, false, denseLines()},
	}
}

// TestBlankCheck runs the blank check alone (no tools) on each fixture and
// on more noise seeds, logging what it found so that the margin of each
// fixture over the thresholds shows.
func TestBlankCheck(t *testing.T) {
	t.Parallel()
	for _, f := range blankFixtures() {
		t.Run(f.name, func(t *testing.T) {
			st := ocr.AnalyseBlank(f.page(t), 300)
			t.Logf("%+v", st)
			require.Equal(t, f.blank, st.Blank())
		})
	}
	t.Run("specks, many seeds", func(t *testing.T) {
		page := letterPage(nil, 255)
		for seed := range uint64(16) {
			st := ocr.AnalyseBlank(speckle(page, 100+seed, specks), 300)
			_, largest := st.Marks()
			require.True(t, st.Blank(), "seed %d: %+v", seed, st)
			require.Less(t, largest, 6, "seed %d", seed)
		}
	})
	t.Run("white text on black", func(t *testing.T) {
		page := letterPage(renderText(t, shortLine, 40), 255)
		for i, v := range page.Pix {
			page.Pix[i] = 255 - v
		}
		require.False(t, ocr.AnalyseBlank(page, 300).Blank())
	})
	t.Run("resolution estimated from the size", func(t *testing.T) {
		require.False(t, ocr.AnalyseBlank(letterPage(renderText(t, shortLine, 40), 255), 0).Blank())
		require.True(t, ocr.AnalyseBlank(speckle(letterPage(nil, 255), 11, specks), 0).Blank())
	})
}

// TestBlankPages reads each fixture through PageText as a PNG, a JPEG, a
// TIFF and an image-only PDF (rasterised by pdftoppm), counting tesseract's
// runs: a blank page is MethodBlank and never reaches tesseract, any other
// is OCRed once and reads right.
func TestBlankPages(t *testing.T) {
	t.Parallel()
	type media struct {
		name, media string
		encode      func(t testing.TB, img *image.Gray) []byte
	}
	all := []media{
		{"pdf", ocr.MediaPDF, func(t testing.TB, img *image.Gray) []byte { return makePDF(t, []pdfPage{{img: img}}) }},
		{"png", ocr.MediaPNG, func(t testing.TB, img *image.Gray) []byte { return encodePNG(t, img) }},
		{"jpeg", ocr.MediaJPEG, func(t testing.TB, img *image.Gray) []byte { return encodeJPEG(t, img) }},
		{"tiff", ocr.MediaTIFF, func(t testing.TB, img *image.Gray) []byte {
			return testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{Img: img}})
		}},
	}
	for _, f := range blankFixtures() {
		for _, m := range all {
			// Text pages cost a tesseract run each: the PDF, rendered by
			// pdftoppm, is the path that matters; the images share the
			// blank check's code.
			if !f.blank && m.media != ocr.MediaPDF && f.name != "one short line" {
				continue
			}
			t.Run(f.name+" "+m.name, func(t *testing.T) {
				t.Parallel()
				path := writeFile(t, "page", m.encode(t, f.page(t)))
				e, calls := countingEngine(t)
				p, err := e.PageText(context.Background(), path, m.media, 1, "eng")
				require.NoError(t, err)
				runs := ocrRuns(calls()["tesseract"])
				if f.blank {
					require.Equal(t, ocr.Page{Number: 1, Text: "", Method: ocr.MethodBlank}, p)
					require.Empty(t, runs, "a blank page is not OCRed")
					return
				}
				require.Equal(t, ocr.MethodOCR, p.Method)
				require.Len(t, runs, 1)
				if f.want == nil {
					return
				}
				rate := cer(strings.Join(f.want, "\n"), p.Text)
				t.Logf("CER %.4f", rate)
				require.LessOrEqual(t, rate, 0.15, "text:\n%s", p.Text)
			})
		}
	}
}

// TestBlankPageOfAPDF checks a blank scanned page among text pages of one
// PDF: only it is MethodBlank, the empty page without images is still its
// (empty) text layer, as before.
func TestBlankPageOfAPDF(t *testing.T) {
	t.Parallel()
	scan := renderText(t, textB, 40)
	path := writeFile(t, "mixed.pdf", makePDF(t, []pdfPage{
		{img: scan},
		{img: speckle(letterPage(nil, 250), 3, specks)},
		{},
	}))
	e, calls := countingEngine(t)
	want := []string{ocr.MethodOCR, ocr.MethodBlank, ocr.MethodTextLayer}
	for i, method := range want {
		p, err := e.PageText(context.Background(), path, ocr.MediaPDF, i+1, "eng")
		require.NoError(t, err)
		require.Equal(t, method, p.Method, "page %d", i+1)
	}
	require.Len(t, ocrRuns(calls()["tesseract"]), 1, "only the page with text is OCRed")
}

// BenchmarkBlank measures the blank check on a letter page at 300 DPI
// against tesseract reading the same page (BenchmarkBlankTesseract): the
// check must cost a small fraction of a tesseract run, since every page
// pays for it.
func BenchmarkBlank(b *testing.B) {
	for _, c := range []struct {
		name string
		page *image.Gray
	}{
		{"blank", speckle(letterPage(nil, 250), 3, specks)},
		{"dense", letterPage(renderText(b, denseLines(), 40), 255)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ocr.AnalyseBlank(c.page, 300)
			}
		})
	}
}

// BenchmarkBlankTesseract is tesseract alone on the blank page of
// BenchmarkBlank, what the check saves.
func BenchmarkBlankTesseract(b *testing.B) {
	path := writeFile(b, "blank.png", encodePNG(b, speckle(letterPage(nil, 250), 3, specks)))
	tesseract, err := exec.LookPath("tesseract")
	require.NoError(b, err)
	for b.Loop() {
		cmd := exec.Command(tesseract, path, "stdout", "-l", "eng", "--dpi", "300")
		cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		require.NoError(b, cmd.Run())
	}
}
