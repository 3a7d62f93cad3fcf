package ocr_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/ocr"
	"github.com/docket-dev/docket/tools/testdocs"
)

// TestMain fails fast, with the fix, when the tools are not installed:
// these tests run the real tesseract and poppler, never mocks.
func TestMain(m *testing.M) {
	for _, tool := range []string{"tesseract", "pdftotext", "pdftoppm", "pdfinfo", "pdfimages", "qpdf"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "ocr tests need %s: run scripts/deps.sh\n", tool)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3"), ocr.MediaPDF},
		{"pdf after junk", append(make([]byte, 500), "%PDF-1.4\n"...), ocr.MediaPDF},
		{"pdf header too late", append(make([]byte, 1100), "%PDF-1.4\n"...), ""},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ocr.MediaPNG},
		{"jpeg jfif", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}, ocr.MediaJPEG},
		{"jpeg exif", []byte{0xFF, 0xD8, 0xFF, 0xE1}, ocr.MediaJPEG},
		{"tiff little endian", []byte("II*\x00\x08\x00\x00\x00"), ocr.MediaTIFF},
		{"tiff big endian", []byte("MM\x00*\x00\x00\x00\x08"), ocr.MediaTIFF},
		{"bigtiff", []byte("II+\x00\x08\x00\x00\x00"), ""},
		{"gif", []byte("GIF89a"), ""},
		{"html", []byte("<!doctype html><html>"), ""},
		{"png signature cut short", []byte("\x89PNG\r\n"), ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ocr.Sniff(tt.head))
		})
	}
}

func TestSniffGeneratedDocuments(t *testing.T) {
	img := renderText(t, []string{"Sniff"}, 20)
	for media, data := range map[string][]byte{
		ocr.MediaPNG:  encodePNG(t, img),
		ocr.MediaJPEG: encodeJPEG(t, img),
		ocr.MediaTIFF: testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{Img: img}}),
		ocr.MediaPDF:  makePDF(t, []pdfPage{{text: textA}}),
	} {
		require.Equal(t, media, ocr.Sniff(data[:min(len(data), ocr.SniffLen)]))
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	img := renderText(t, textA, 24)
	textPDF := writeFile(t, "text.pdf", makePDF(t, []pdfPage{{text: textA}, {text: textB}}))
	tests := []struct {
		name      string
		path      string
		media     string
		pages     int
		encrypted bool
	}{
		{"png", writeFile(t, "a.png", encodePNG(t, img)), ocr.MediaPNG, 1, false},
		{"jpeg", writeFile(t, "a.jpg", encodeJPEG(t, img)), ocr.MediaJPEG, 1, false},
		{"single-page tiff", writeFile(t, "a.tif", testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{Img: img}})), ocr.MediaTIFF, 1, false},
		{"three-page tiff, big endian", writeFile(t, "b.tif", testdocs.TIFF(binary.BigEndian, []testdocs.TIFFPage{{Img: img}, {Img: img}, {Img: img}})), ocr.MediaTIFF, 3, false},
		{"text pdf", textPDF, ocr.MediaPDF, 2, false},
		{"image pdf", writeFile(t, "img.pdf", makePDF(t, []pdfPage{{img: img}, {img: img}, {img: img}})), ocr.MediaPDF, 3, false},
		{"pdf with owner password only", encryptPDF(t, textPDF, ""), ocr.MediaPDF, 2, true},
	}
	var e ocr.Engine
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := e.Inspect(context.Background(), tt.path, tt.media)
			require.NoError(t, err)
			require.Equal(t, ocr.Info{MediaType: tt.media, Pages: tt.pages, Encrypted: tt.encrypted}, info)
		})
	}
}

// TestBadDocuments checks that each kind of bad document is a DocumentError
// of the right kind, from Inspect and from PageText alike, so that the
// activity can fail the job at once whichever it calls.
func TestBadDocuments(t *testing.T) {
	t.Parallel()
	img := renderText(t, textA, 24)
	pngData := encodePNG(t, img)
	jpegData := encodeJPEG(t, img)
	tiffData := testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{Img: img}, {Img: img}})
	pdfData := makePDF(t, []pdfPage{{text: textA}, {img: img}})
	pdfPath := writeFile(t, "ok.pdf", pdfData)

	tests := []struct {
		name  string
		path  string
		media string
		kind  job.Failure
	}{
		{"pdf of garbage", writeFile(t, "garbage.pdf", []byte("%PDF-1.4\nthis is not a PDF at all\n")), ocr.MediaPDF, ocr.KindUnreadable},
		{"pdf truncated", writeFile(t, "cut.pdf", pdfData[:40]), ocr.MediaPDF, ocr.KindUnreadable},
		{"pdf with a user password", encryptPDF(t, pdfPath, "user-secret"), ocr.MediaPDF, ocr.KindEncrypted},
		{"pdf without pages", writeFile(t, "nopages.pdf", makePDF(t, nil)), ocr.MediaPDF, ocr.KindEmpty},
		{"png truncated", writeFile(t, "cut.png", pngData[:len(pngData)/2]), ocr.MediaPNG, ocr.KindUnreadable},
		{"png corrupt", writeFile(t, "bad.png", corrupt(pngData)), ocr.MediaPNG, ocr.KindUnreadable},
		{"png of 100000x100000", writeFile(t, "huge.png", pngHeader(100_000, 100_000)), ocr.MediaPNG, ocr.KindTooLarge},
		{"png of 0x10", writeFile(t, "zero.png", pngHeader(0, 10)), ocr.MediaPNG, ocr.KindUnreadable},
		{"jpeg truncated", writeFile(t, "cut.jpg", jpegData[:len(jpegData)/2]), ocr.MediaJPEG, ocr.KindUnreadable},
		{"jpeg corrupt", writeFile(t, "bad.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 64)...)), ocr.MediaJPEG, ocr.KindUnreadable},
		{"tiff truncated", writeFile(t, "cut.tif", tiffData[:len(tiffData)/2]), ocr.MediaTIFF, ocr.KindUnreadable},
		{"tiff header only", writeFile(t, "hdr.tif", []byte("II*\x00\x00\x10\x00\x00")), ocr.MediaTIFF, ocr.KindUnreadable},
		{"tiff without pages", writeFile(t, "nopages.tif", []byte("II*\x00\x00\x00\x00\x00")), ocr.MediaTIFF, ocr.KindEmpty},
		{"tiff of 100000x100000", writeFile(t, "huge.tif", testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{W: 100_000, H: 100_000}})), ocr.MediaTIFF, ocr.KindTooLarge},
		{"empty file", writeFile(t, "empty.pdf", nil), ocr.MediaPDF, ocr.KindEmpty},
		{"png content called pdf", writeFile(t, "png.pdf", pngData), ocr.MediaPDF, ocr.KindUnreadable},
		{"text file called png", writeFile(t, "list.png", []byte("/etc/passwd\n")), ocr.MediaPNG, ocr.KindUnreadable},
		{"unknown media type", writeFile(t, "a.gif", []byte("GIF89a")), "image/gif", ocr.KindUnreadable},
	}
	var e ocr.Engine
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Inspect(context.Background(), tt.path, tt.media)
			requireKind(t, err, tt.kind)
			t.Logf("Inspect: %v", err)
			_, err = e.PageText(context.Background(), tt.path, tt.media, 1, "eng")
			requireKind(t, err, tt.kind)
		})
	}
}

// corrupt flips bytes in the middle of data, where image data lies.
func corrupt(data []byte) []byte {
	out := append([]byte(nil), data...)
	for i := len(out) / 2; i < len(out)/2+32 && i < len(out); i++ {
		out[i] ^= 0x5A
	}
	return out
}

func requireKind(t *testing.T, err error, kind job.Failure) {
	t.Helper()
	var de *ocr.DocumentError
	require.ErrorAs(t, err, &de)
	require.Equal(t, kind, de.Kind, "error: %v", err)
	require.NotEmpty(t, de.Msg)
}

func TestPDFPageTooLargeEvenAtLowResolution(t *testing.T) {
	t.Parallel()
	// A 300 x 300 inch image-only page: 90000 x 90000 pixels at 300 DPI and
	// still 466 megapixels at 72.
	pdf := makePDF(t, []pdfPage{{img: renderText(t, []string{"poster"}, 24), size: [2]float64{21600, 21600}}})
	path := writeFile(t, "poster.pdf", pdf)
	e := ocr.Engine{TempDir: t.TempDir()}
	info, err := e.Inspect(context.Background(), path, ocr.MediaPDF)
	require.NoError(t, err)
	require.Equal(t, 1, info.Pages)
	_, err = e.PageText(context.Background(), path, ocr.MediaPDF, 1, "eng")
	requireKind(t, err, ocr.KindTooLarge)
	requireEmptyDir(t, e.TempDir)
}

func TestLanguages(t *testing.T) {
	t.Parallel()
	var e ocr.Engine
	langs, err := e.Languages(context.Background())
	require.NoError(t, err)
	require.Contains(t, langs, "eng")
	require.NotContains(t, langs, "osd")

	path := writeFile(t, "a.pdf", makePDF(t, []pdfPage{{text: textA}}))
	for _, lang := range []string{"xyz", "eng+xyz", "osd", "eng;rm", "-psm", "ENG", "en", "eng+"} {
		t.Run(lang, func(t *testing.T) {
			_, err := e.PageText(context.Background(), path, ocr.MediaPDF, 1, lang)
			requireKind(t, err, ocr.KindUnsupportedLanguage)
		})
	}
}

func TestPageRange(t *testing.T) {
	t.Parallel()
	img := renderText(t, textA, 24)
	tests := []struct {
		name  string
		path  string
		media string
		page  int
	}{
		{"page 0", writeFile(t, "a.png", encodePNG(t, img)), ocr.MediaPNG, 0},
		{"page 2 of an image", writeFile(t, "b.png", encodePNG(t, img)), ocr.MediaPNG, 2},
		{"page 3 of 2 (pdf)", writeFile(t, "a.pdf", makePDF(t, []pdfPage{{text: textA}, {text: textB}})), ocr.MediaPDF, 3},
		{"page 3 of 2 (tiff)", writeFile(t, "a.tif", testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{Img: img}, {Img: img}})), ocr.MediaTIFF, 3},
	}
	var e ocr.Engine
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.PageText(context.Background(), tt.path, tt.media, tt.page, "eng")
			require.ErrorIs(t, err, ocr.ErrPageRange)
			var de *ocr.DocumentError
			require.False(t, errors.As(err, &de), "a page number is the caller's mistake, not the document's")
		})
	}
}

// TestPageTextAccuracy runs real OCR on generated pages and bounds the
// character error rate per case. The bounds have a wide margin over the
// rates measured (logged), so that a tesseract update does not fail them
// while a broken pipeline (wrong page, no text, garbage) does.
func TestPageTextAccuracy(t *testing.T) {
	t.Parallel()
	const px = 40 // 40 px per em: 10 pt text scanned at 300 DPI
	pageA, pageB, pageC := renderText(t, textA, px), renderText(t, textB, px), renderText(t, textC, px)
	var (
		cleanPNG  = writeFile(t, "clean.png", encodePNG(t, pageA))
		cleanJPEG = writeFile(t, "clean.jpg", encodeJPEG(t, pageA))
		// 10 px per em: 10 pt text scanned at 72 DPI, blurred by averaging.
		lowResPNG  = writeFile(t, "low.png", encodePNG(t, downscale(renderText(t, textB, 4*10), 4)))
		rotatedPNG = writeFile(t, "rotated.png", encodePNG(t, rotate(pageC, 2.5)))
		// Specks over about 0.6% of the pixels, some of them breaking strokes.
		noisyPNG = writeFile(t, "noisy.png", encodePNG(t, speckle(pageA, 42, pageA.Rect.Dx()*pageA.Rect.Dy()/800)))
		textPDF  = writeFile(t, "text.pdf", makePDF(t, []pdfPage{{text: textA}, {text: textB}}))
		// Owner-password restrictions are the reader's to honour; poppler
		// extracts the text of a PDF that forbids copying it.
		noCopyPDF = encryptPDF(t, textPDF, "", "--extract=n")
		imagePDF  = writeFile(t, "image.pdf", makePDF(t, []pdfPage{{img: pageA}, {img: pageB}, {img: pageC}}))
		// A scanned page with a stamp in its text layer, as scanning apps
		// add: too little text to be taken for the page's text layer.
		stampedPDF = writeFile(t, "stamped.pdf", makePDF(t, []pdfPage{{
			text: []string{"Scanned with CamScanner"}, img: pageB,
			size: [2]float64{float64(pageB.Rect.Dx()) * 72 / 300, float64(pageB.Rect.Dy())*72/300 + 30},
		}}))
		tiff = writeFile(t, "pages.tif", testdocs.TIFF(binary.BigEndian, []testdocs.TIFFPage{{Img: pageA}, {Img: pageB}, {Img: pageC}}))
	)
	stamped := append([]string{"Scanned with CamScanner"}, textB...)
	// A quarter of page A's pixels at 300 DPI: it is rasterised at about
	// 150 DPI instead of being refused.
	quarter := int64(pageA.Rect.Dx() * pageA.Rect.Dy() / 4)

	tests := []struct {
		name      string
		path      string
		media     string
		page      int
		want      []string
		method    string
		maxCER    float64
		maxPixels int64
	}{
		{"clean png", cleanPNG, ocr.MediaPNG, 1, textA, ocr.MethodOCR, 0.05, 0},
		{"clean jpeg", cleanJPEG, ocr.MediaJPEG, 1, textA, ocr.MethodOCR, 0.05, 0},
		{"low resolution png", lowResPNG, ocr.MediaPNG, 1, textB, ocr.MethodOCR, 0.15, 0},
		{"rotated 2.5 degrees png", rotatedPNG, ocr.MediaPNG, 1, textC, ocr.MethodOCR, 0.15, 0},
		{"noisy png", noisyPNG, ocr.MediaPNG, 1, textA, ocr.MethodOCR, 0.15, 0},
		{"text-layer pdf page 1", textPDF, ocr.MediaPDF, 1, textA, ocr.MethodTextLayer, 0, 0},
		{"text-layer pdf page 2", textPDF, ocr.MediaPDF, 2, textB, ocr.MethodTextLayer, 0, 0},
		{"encrypted pdf forbidding copying", noCopyPDF, ocr.MediaPDF, 2, textB, ocr.MethodTextLayer, 0, 0},
		{"image-only pdf page 2", imagePDF, ocr.MediaPDF, 2, textB, ocr.MethodOCR, 0.05, 0},
		{"image-only pdf page 3", imagePDF, ocr.MediaPDF, 3, textC, ocr.MethodOCR, 0.05, 0},
		{"image-only pdf over MaxPixels", imagePDF, ocr.MediaPDF, 1, textA, ocr.MethodOCR, 0.10, quarter},
		{"image pdf with a stamp", stampedPDF, ocr.MediaPDF, 1, stamped, ocr.MethodOCR, 0.15, 0},
		{"tiff page 1 of 3", tiff, ocr.MediaTIFF, 1, textA, ocr.MethodOCR, 0.05, 0},
		{"tiff page 3 of 3", tiff, ocr.MediaTIFF, 3, textC, ocr.MethodOCR, 0.05, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := ocr.Engine{MaxPixels: tt.maxPixels, TempDir: t.TempDir()}
			p, err := e.PageText(context.Background(), tt.path, tt.media, tt.page, "eng")
			require.NoError(t, err)
			want := strings.Join(tt.want, "\n")
			rate := cer(want, p.Text)
			t.Logf("CER %.4f (bound %.2f), method %s", rate, tt.maxCER, p.Method)
			require.Equal(t, tt.page, p.Number)
			require.Equal(t, tt.method, p.Method)
			require.LessOrEqual(t, rate, tt.maxCER, "text:\n%s", p.Text)
			requireEmptyDir(t, e.TempDir)
		})
	}
}

func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "temporary files left behind")
}

// TestCancelDuringOCR cancels a page while tesseract is working on it and
// checks that PageText returns the context's error (not a DocumentError,
// which would fail the job) and that the tesseract process is gone, by
// asking the kernel about its pid, and its temporary files too.
func TestCancelDuringOCR(t *testing.T) {
	// Not parallel, for Setenv: the engine must override a worker's own
	// setting, so the test gives it one.
	t.Setenv("OMP_THREAD_LIMIT", "8")
	tesseract, err := exec.LookPath("tesseract")
	require.NoError(t, err)
	dir := t.TempDir()
	// The wrapper records the pid and environment of the OCR run (not of
	// the --list-langs one) and execs tesseract in the same process.
	wrapper := filepath.Join(dir, "tesseract")
	script := fmt.Sprintf(`#!/bin/sh
if [ "$2" = stdout ]; then
  echo "$OMP_THREAD_LIMIT" > '%[1]s/omp'
  echo $$ > '%[1]s/pid.tmp' && mv '%[1]s/pid.tmp' '%[1]s/pid'
fi
exec '%[2]s' "$@"
`, dir, tesseract)
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o700))

	// A dense page takes tesseract many seconds: long enough to be
	// interrupted well before it finishes.
	var lines []string
	for range 12 {
		lines = append(lines, textA...)
		lines = append(lines, textB...)
		lines = append(lines, textC...)
	}
	page := renderText(t, lines, 40)
	path := writeFile(t, "dense.pdf", makePDF(t, []pdfPage{{img: page}}))

	e := ocr.Engine{Tesseract: wrapper, TempDir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan pageResult, 1)
	go func() {
		p, err := e.PageText(ctx, path, ocr.MediaPDF, 1, "eng")
		done <- pageResult{p, err}
	}()

	pid := waitForPID(t, filepath.Join(dir, "pid"), done)
	// Let tesseract get past start-up into recognition, which is where a
	// real cancellation finds it; the page keeps it busy far longer.
	time.Sleep(500 * time.Millisecond)
	canceled := time.Now()
	cancel()
	res := <-done
	t.Logf("PageText returned %v after cancel", time.Since(canceled).Round(time.Millisecond))
	require.ErrorIs(t, res.err, context.Canceled)
	var de *ocr.DocumentError
	require.False(t, errors.As(res.err, &de))

	// PageText has waited for (reaped) tesseract, so its pid no longer
	// names a process, not even a zombie.
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "tesseract (pid %d) still exists", pid)
	requireEmptyDir(t, e.TempDir)

	omp, err := os.ReadFile(filepath.Join(dir, "omp"))
	require.NoError(t, err)
	require.Equal(t, "1", strings.TrimSpace(string(omp)), "tesseract must run with OMP_THREAD_LIMIT=1")
}

// TestCanceledBeforeStart checks that a context canceled before any tool
// runs gives the context's error, from both methods.
func TestCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "a.pdf", makePDF(t, []pdfPage{{img: renderText(t, textA, 24)}}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var e ocr.Engine
	_, err := e.Inspect(ctx, path, ocr.MediaPDF)
	require.ErrorIs(t, err, context.Canceled)
	_, err = e.PageText(ctx, path, ocr.MediaPDF, 1, "eng")
	require.ErrorIs(t, err, context.Canceled)
}

type pageResult struct {
	page ocr.Page
	err  error
}

// waitForPID waits until the wrapper has written tesseract's pid, failing
// if PageText returns first (it must not: the page is too big for that).
func waitForPID(t *testing.T, file string, done <-chan pageResult) int {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case res := <-done:
			t.Fatalf("PageText returned before tesseract started: %v", res.err)
		case <-tick.C:
			data, err := os.ReadFile(file)
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			require.NoError(t, err)
			return pid
		}
	}
}
