package ocr_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/ocr"
)

// title is a title page's whole text: 29 characters, under the 50 that
// once sent a page to OCR.
const title = "Quarterly Report, Spring 2024"

// TestPDFPageMethods checks which pages are read from their text layer and
// which are OCRed: images decide, not the amount of text. Each page is read
// both ways, with PageText and from ReadTextLayer, which must agree.
func TestPDFPageMethods(t *testing.T) {
	t.Parallel()
	scan := renderText(t, textB, 40)
	path := writeFile(t, "mixed.pdf", makePDF(t, []pdfPage{
		{text: []string{title}},
		// A scanned page with a little text of its own in the text layer.
		{text: []string{"Page 2"}, img: scan,
			size: [2]float64{float64(scan.Rect.Dx()) * 72 / 300, float64(scan.Rect.Dy())*72/300 + 30}},
		{}, // blank: no text, no image
		{text: textA},
		{text: []string{"7"}}, // a page number alone is still the page's text
	}))
	tests := []struct {
		page   int
		method string
		want   string // exact, for the text layer
		ocr    []string
	}{
		{1, ocr.MethodTextLayer, title, nil},
		{2, ocr.MethodOCR, "", append([]string{"Page 2"}, textB...)},
		{3, ocr.MethodTextLayer, "", nil},
		{4, ocr.MethodTextLayer, strings.Join(textA, "\n"), nil},
		{5, ocr.MethodTextLayer, "7", nil},
	}
	e := ocr.Engine{TempDir: t.TempDir()}
	layer, err := e.ReadTextLayer(context.Background(), path, ocr.MediaPDF, "eng")
	require.NoError(t, err)
	require.Equal(t, 4, layer.Len())
	for _, tt := range tests {
		t.Run(fmt.Sprint("page ", tt.page), func(t *testing.T) {
			p, err := e.PageText(context.Background(), path, ocr.MediaPDF, tt.page, "eng")
			require.NoError(t, err)
			require.Equal(t, tt.page, p.Number)
			require.Equal(t, tt.method, p.Method)
			fromLayer, ok := layer.Page(tt.page)
			if tt.method == ocr.MethodOCR {
				require.False(t, ok, "a page with an image is left to OCR")
				rate := cer(strings.Join(tt.ocr, "\n"), p.Text)
				t.Logf("CER %.4f", rate)
				require.LessOrEqual(t, rate, 0.15, "text:\n%s", p.Text)
				return
			}
			require.Equal(t, tt.want, p.Text)
			require.True(t, ok)
			require.Equal(t, p, fromLayer)
		})
	}
	requireEmptyDir(t, e.TempDir)
	_, ok := layer.Page(6)
	require.False(t, ok)
}

// TestLongTextPDFWithoutOCR reads a 320-page PDF of one line per page: every
// page comes from its text layer, with pdftotext and pdfimages run once for
// the whole document and pdftoppm and tesseract's recognition never.
func TestLongTextPDFWithoutOCR(t *testing.T) {
	t.Parallel()
	const n = 320
	pages := make([]pdfPage, n)
	for i := range pages {
		pages[i] = pdfPage{text: []string{lineOf(i + 1)}}
	}
	path := writeFile(t, "long.pdf", makePDF(t, pages))
	e, calls := countingEngine(t)
	info, err := e.Inspect(context.Background(), path, ocr.MediaPDF)
	require.NoError(t, err)
	require.Equal(t, n, info.Pages)

	layer, err := e.ReadTextLayer(context.Background(), path, ocr.MediaPDF, "eng")
	require.NoError(t, err)
	require.Equal(t, n, layer.Len())
	for i := 1; i <= n; i++ {
		p, ok := layer.Page(i)
		require.True(t, ok, "page %d", i)
		require.Equal(t, ocr.Page{Number: i, Text: lineOf(i), Method: ocr.MethodTextLayer}, p)
	}
	got := calls()
	require.Empty(t, got["pdftoppm"], "no page is rasterised")
	require.Empty(t, ocrRuns(got["tesseract"]), "no page is recognised")
	require.Len(t, got["pdftotext"], 1, "one pdftotext for the document")
	require.Len(t, got["pdfimages"], 1, "one pdfimages for the document")
	require.NotContains(t, got["pdftotext"][0], "-f", "the whole document at once")
}

// lineOf is page i's line in TestLongTextPDFWithoutOCR.
func lineOf(i int) string { return fmt.Sprintf("Line of page %d.", i) }

// ocrRuns leaves out tesseract's language listing, which checks the job's
// language once per tesseract binary and recognises nothing.
func ocrRuns(runs []string) []string {
	var out []string
	for _, r := range runs {
		if !strings.Contains(r, "--list-langs") {
			out = append(out, r)
		}
	}
	return out
}

// countingEngine returns an Engine whose tools are wrappers that log each
// run (name and arguments, a line each) and exec the real tool, and a
// function returning the runs so far by tool.
func countingEngine(t *testing.T) (ocr.Engine, func() map[string][]string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "calls.log")
	wrap := func(tool string) string {
		real, err := exec.LookPath(tool)
		require.NoError(t, err)
		w := filepath.Join(dir, tool)
		// One write per line, under PIPE_BUF, so concurrent runs do not
		// interleave.
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s %%s\\n' %s \"$*\" >> '%s'\nexec '%s' \"$@\"\n", tool, logPath, real)
		require.NoError(t, os.WriteFile(w, []byte(script), 0o700))
		return w
	}
	e := ocr.Engine{
		Tesseract: wrap("tesseract"), PDFToText: wrap("pdftotext"), PDFToPPM: wrap("pdftoppm"),
		PDFInfo: wrap("pdfinfo"), PDFImages: wrap("pdfimages"), TempDir: t.TempDir(),
	}
	return e, func() map[string][]string {
		data, err := os.ReadFile(logPath)
		if os.IsNotExist(err) {
			return map[string][]string{}
		}
		require.NoError(t, err)
		calls := map[string][]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			tool, args, _ := strings.Cut(l, " ")
			calls[tool] = append(calls[tool], args)
		}
		return calls
	}
}
