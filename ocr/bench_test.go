package ocr_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/ocr"
)

// BenchmarkOnePage compares Engine.PageText on one scanned letter page
// (36 lines of 10 pt text at 300 DPI) with the bare tools on the same file,
// to show what the ocr package adds to a page: "docket" is PageText,
// "tesseract" the one tesseract run a script would make (for the PDF,
// pdftoppm to PNG and tesseract on that, what PageText did before rasters
// went through memory as PGM). Run with -benchtime=5x or so; it is not run
// by the tests. Wall time is at the mercy of whatever else the machine
// runs, so each case also reports CPU time per page from getrusage: the
// tools' (children-ms/op) and this process's own (self-ms/op).
func BenchmarkOnePage(b *testing.B) {
	page := letterPage(renderText(b, denseLines(), 40), 255)
	pngPath := writeFile(b, "page.png", encodePNG(b, page))
	pdfPath := writeFile(b, "page.pdf", makePDF(b, []pdfPage{{img: page}}))
	tesseract, err := exec.LookPath("tesseract")
	require.NoError(b, err)
	pdftoppm, err := exec.LookPath("pdftoppm")
	require.NoError(b, err)
	env := append(os.Environ(), "OMP_THREAD_LIMIT=1")
	runTool := func(b *testing.B, bin string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "%s", out)
	}
	e := ocr.Engine{TempDir: b.TempDir()}
	ctx := context.Background()
	// Warm the language check, which a worker does once.
	_, err = e.Languages(ctx)
	require.NoError(b, err)

	b.Run("png/docket", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			p, err := e.PageText(ctx, pngPath, ocr.MediaPNG, 1, "eng")
			require.NoError(b, err)
			require.Equal(b, ocr.MethodOCR, p.Method)
		}
	})
	b.Run("png/tesseract", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			runTool(b, tesseract, pngPath, "stdout", "-l", "eng")
		}
	})
	b.Run("pdf/docket", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			p, err := e.PageText(ctx, pdfPath, ocr.MediaPDF, 1, "eng")
			require.NoError(b, err)
			require.Equal(b, ocr.MethodOCR, p.Method)
		}
	})
	b.Run("pdf/tesseract", func(b *testing.B) {
		dir := b.TempDir()
		defer cpuPerOp(b)()
		for b.Loop() {
			runTool(b, pdftoppm, "-png", "-gray", "-r", "300", "-f", "1", "-l", "1", "-singlefile", pdfPath, filepath.Join(dir, "page"))
			runTool(b, tesseract, filepath.Join(dir, "page.png"), "stdout", "-l", "eng", "--dpi", "300")
		}
	})
	// tesseract alone on the raster PageText makes of the PDF page:
	// against pdf/docket, all the package adds (pdfinfo, pdfimages,
	// pdftoppm, the blank check).
	b.Run("pdf/raster-tesseract", func(b *testing.B) {
		raster := filepath.Join(b.TempDir(), "page")
		runTool(b, pdftoppm, "-gray", "-r", "300", "-f", "1", "-l", "1", "-singlefile", pdfPath, raster)
		defer cpuPerOp(b)()
		for b.Loop() {
			runTool(b, tesseract, raster+".pgm", "stdout", "-l", "eng", "--dpi", "300")
		}
	})
}

// cpuPerOp starts measuring CPU time; the function it returns reports the
// children's and this process's CPU time per b.N as metrics.
func cpuPerOp(b *testing.B) func() {
	usage := func(who int) time.Duration {
		var ru syscall.Rusage
		require.NoError(b, syscall.Getrusage(who, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	children, self := usage(syscall.RUSAGE_CHILDREN), usage(syscall.RUSAGE_SELF)
	return func() {
		n := float64(b.N)
		b.ReportMetric(float64((usage(syscall.RUSAGE_CHILDREN)-children).Milliseconds())/n, "children-ms/op")
		b.ReportMetric(float64((usage(syscall.RUSAGE_SELF)-self).Milliseconds())/n, "self-ms/op")
	}
}
