package ocr_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/ocr"
	"github.com/docket-dev/docket/tools/testdocs"
)

// forkingTesseract returns a tesseract wrapper that runs the real one as
// its child, not by exec, and records the child's pid in dir/pid, and
// also starts a sleep that would outlast the test, recording its pid in
// dir/sleep: killing only the process PageText started would leave both
// running, while killing its process group leaves neither.
func forkingTesseract(t *testing.T, dir string) string {
	t.Helper()
	tesseract, err := exec.LookPath("tesseract")
	require.NoError(t, err)
	wrapper := filepath.Join(dir, "tesseract")
	script := fmt.Sprintf(`#!/bin/sh
if [ "$2" != stdout ]; then exec '%[2]s' "$@"; fi
sleep 300 >/dev/null 2>&1 &
echo $! > '%[1]s/sleep'
# A background command's standard input is /dev/null unless redirected;
# tesseract reads the page from it.
exec 3<&0
'%[2]s' "$@" <&3 &
echo $! > '%[1]s/pid.tmp' && mv '%[1]s/pid.tmp' '%[1]s/pid'
wait $!
`, dir, tesseract)
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o700))
	t.Cleanup(func() {
		// Only if the test failed with them still running.
		for _, f := range []string{"pid", "sleep"} {
			if pid := readPID(t, filepath.Join(dir, f)); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return wrapper
}

// readPID reads a pid the wrapper wrote, or 0 if it wrote none.
func readPID(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	var pid int
	_, err = fmt.Sscan(string(data), &pid)
	require.NoError(t, err)
	return pid
}

// requireGone waits for process pid to be gone or a zombie (dead, waiting
// for whoever adopted it to reap it): SIGKILL takes effect when the kernel
// next schedules the process, so that is polled, for a bound generous
// enough for a loaded machine, not timed.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	for range 100 {
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			return
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			// The state follows the command name in parentheses.
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d is still running", pid)
}

// TestPageTimeout gives a dense page (several seconds of tesseract) a
// PageTimeout far shorter than that: PageText returns a *PageError of
// KindPageTimeout, not a DocumentError and not a context error, and the
// tesseract the wrapper started as its child is killed with it.
func TestPageTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, "dense.pdf", makePDF(t, []pdfPage{{img: renderText(t, bigDenseLines(), 40)}}))
	// The timeout must run out while tesseract works, after pdfinfo,
	// pdfimages and pdftoppm, which take a fraction of a second; on a
	// machine so loaded that they take longer, it is doubled and tried
	// again rather than the test failing for the load.
	for timeout := time.Second; ; timeout *= 2 {
		require.LessOrEqual(t, timeout, 16*time.Second, "tesseract never ran before the timeout")
		e := ocr.Engine{Tesseract: forkingTesseract(t, dir), TempDir: t.TempDir(), PageTimeout: timeout}
		_, err := e.PageText(context.Background(), path, ocr.MediaPDF, 1, "eng")
		require.Error(t, err, "the page was read within %v", timeout)
		var pe *ocr.PageError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, ocr.PageError{Page: 1, Kind: ocr.KindPageTimeout, Msg: pe.Msg}, *pe)
		require.Contains(t, pe.Msg, timeout.String())
		var de *ocr.DocumentError
		require.False(t, errors.As(err, &de))
		require.NotErrorIs(t, err, context.DeadlineExceeded, "a page timeout is not the caller's deadline")
		requireEmptyDir(t, e.TempDir)
		pid := readPID(t, filepath.Join(dir, "pid"))
		if pid == 0 {
			t.Logf("timed out after %v before tesseract started; trying a longer timeout", timeout)
			continue
		}
		t.Logf("timed out after %v while tesseract (pid %d) ran", timeout, pid)
		requireGone(t, pid)
		requireGone(t, readPID(t, filepath.Join(dir, "sleep")))
		return
	}
}

// TestPageTimeoutIsNotTheCallersContext checks that the caller's own
// cancellation or deadline, inside a generous PageTimeout, is ctx.Err()
// and not a PageError, also with the tool's child to kill.
func TestPageTimeoutIsNotTheCallersContext(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "dense.pdf", makePDF(t, []pdfPage{{img: renderText(t, bigDenseLines(), 40)}}))
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := ocr.Engine{Tesseract: forkingTesseract(t, dir), PageTimeout: time.Hour}
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := e.PageText(ctx, path, ocr.MediaPDF, 1, "eng")
			require.ErrorIs(t, err, tt.want)
			var pe *ocr.PageError
			require.False(t, errors.As(err, &pe), "the caller's context is not a page error: %v", err)
			for _, f := range []string{"pid", "sleep"} {
				if pid := readPID(t, filepath.Join(dir, f)); pid > 0 {
					requireGone(t, pid)
				}
			}
		})
	}
}

// TestDamagedPage reads a PDF of three scanned pages whose second page's
// image data is damaged: that page is a *PageError of KindPageUnreadable
// (poppler still renders it, and exits 0, but says so), the other pages
// read fine, and the document as a whole is sound. A document that cannot
// be opened stays a *DocumentError, never a PageError.
func TestDamagedPage(t *testing.T) {
	t.Parallel()
	pages := [][]string{textA, textB, textC}
	good := makePDF(t, []pdfPage{{img: renderText(t, textA, 40)}, {img: renderText(t, textB, 40)}, {img: renderText(t, textC, 40)}})
	path := writeFile(t, "damaged.pdf", damageImage(t, good, 2))
	e := ocr.Engine{TempDir: t.TempDir()}
	ctx := context.Background()

	info, err := e.Inspect(ctx, path, ocr.MediaPDF)
	require.NoError(t, err)
	require.Equal(t, 3, info.Pages)
	n, err := e.CountPages(ctx, path, ocr.MediaPDF)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	layer, err := e.ReadTextLayer(ctx, path, ocr.MediaPDF, "eng")
	require.NoError(t, err)
	require.Zero(t, layer.Len(), "every page is a scan")

	for i, want := range pages {
		p, err := e.PageText(ctx, path, ocr.MediaPDF, i+1, "eng")
		if i+1 == 2 {
			var pe *ocr.PageError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, 2, pe.Page)
			require.Equal(t, ocr.KindPageUnreadable, pe.Kind)
			require.NotContains(t, pe.Msg, filepath.Dir(path), "no local path in the message")
			var de *ocr.DocumentError
			require.False(t, errors.As(err, &de))
			t.Logf("page 2: %v", err)
			continue
		}
		require.NoError(t, err, "page %d", i+1)
		require.Equal(t, ocr.MethodOCR, p.Method)
		require.LessOrEqual(t, cer(strings.Join(want, "\n"), p.Text), 0.05, "page %d:\n%s", i+1, p.Text)
	}
	requireEmptyDir(t, e.TempDir)

	for name, data := range map[string][]byte{
		"truncated":   good[:len(good)/3],
		"no xref":     []byte("%PDF-1.4\nthis is not a PDF at all\n"),
		"no pages":    makePDF(t, nil),
		"not our PDF": encodePNG(t, renderText(t, textA, 24)),
	} {
		p := writeFile(t, "bad.pdf", data)
		_, err := e.PageText(ctx, p, ocr.MediaPDF, 1, "eng")
		var de *ocr.DocumentError
		require.ErrorAs(t, err, &de, name)
		var pe *ocr.PageError
		require.False(t, errors.As(err, &pe), name)
	}
}

// TestDamagedTIFFPage reads a three-page TIFF whose second page's data
// does not decompress: leptonica says so on standard error while tesseract
// exits 0 with no text. That page is a *PageError of KindPageUnreadable and
// the others read fine; the same page as a whole single-page TIFF is the
// document's failure, a *DocumentError.
func TestDamagedTIFFPage(t *testing.T) {
	t.Parallel()
	texts := [][]string{textA, textB, textC}
	var pages []testdocs.TIFFPage
	for _, l := range texts {
		pages = append(pages, testdocs.TIFFPage{Img: renderText(t, l, 40)})
	}
	path := writeFile(t, "damaged.tif", lzwTIFF(t, pages, 2))
	e := ocr.Engine{TempDir: t.TempDir()}
	ctx := context.Background()
	info, err := e.Inspect(ctx, path, ocr.MediaTIFF)
	require.NoError(t, err)
	require.Equal(t, 3, info.Pages)
	for i, want := range texts {
		p, err := e.PageText(ctx, path, ocr.MediaTIFF, i+1, "eng")
		if i+1 == 2 {
			var pe *ocr.PageError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, 2, pe.Page)
			require.Equal(t, ocr.KindPageUnreadable, pe.Kind)
			t.Logf("page 2: %v", err)
			continue
		}
		require.NoError(t, err, "page %d", i+1)
		require.LessOrEqual(t, cer(strings.Join(want, "\n"), p.Text), 0.05, "page %d:\n%s", i+1, p.Text)
	}
	requireEmptyDir(t, e.TempDir)

	single := writeFile(t, "single.tif", lzwTIFF(t, pages[:1], 1))
	_, err = e.PageText(ctx, single, ocr.MediaTIFF, 1, "eng")
	requireKind(t, err, ocr.KindUnreadable)
}

// TestVersion checks that Engine.Version is stable, names its parts, and
// changes with the language and with the content of a language's data
// (not its path). Not parallel: it sets TESSDATA_PREFIX.
func TestVersion(t *testing.T) {
	ctx := context.Background()
	var e ocr.Engine
	v1, err := e.Version(ctx, "eng")
	require.NoError(t, err)
	t.Log(v1)
	v2, err := e.Version(ctx, "")
	require.NoError(t, err)
	require.Equal(t, v1, v2, "stable, and the default language is eng")
	for _, part := range []string{"docket-ocr/" + ocr.PipelineVersion, " dpi=300 ", " tesseract/", " leptonica/", " poppler/", " eng:"} {
		require.Contains(t, v1, part)
	}
	other, err := (&ocr.Engine{DPI: 200}).Version(ctx, "eng")
	require.NoError(t, err)
	require.NotEqual(t, v1, other, "the resolution changes the text")
	smaller, err := (&ocr.Engine{MaxPixels: 1_000_000}).Version(ctx, "eng")
	require.NoError(t, err)
	require.NotEqual(t, v1, smaller, "so does the pixel limit, for large pages")
	_, err = e.Version(ctx, "xyz")
	requireKind(t, err, ocr.KindUnsupportedLanguage)

	// A data directory of its own: eng is the installed eng, copied; fra
	// is the same data under another name; a second directory's eng has
	// other content.
	out, err := exec.Command("tesseract", "--list-langs").Output()
	require.NoError(t, err)
	_, rest, _ := strings.Cut(string(out), `"`)
	sysData, _, _ := strings.Cut(rest, `"`)
	eng, err := os.ReadFile(filepath.Join(sysData, "eng.traineddata"))
	require.NoError(t, err)
	same, changed := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(same, "eng.traineddata"), eng, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(same, "fra.traineddata"), eng, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(changed, "eng.traineddata"), append(eng[:len(eng):len(eng)], 0), 0o600))

	t.Setenv("TESSDATA_PREFIX", same+"/")
	copied, err := e.Version(ctx, "eng")
	require.NoError(t, err)
	require.Equal(t, v1, copied, "the same data elsewhere is the same version")
	both, err := e.Version(ctx, "eng+fra")
	require.NoError(t, err)
	require.NotEqual(t, v1, both)
	require.Contains(t, both, " eng:")
	require.Contains(t, both, "+fra:")

	t.Setenv("TESSDATA_PREFIX", changed+"/")
	edited, err := e.Version(ctx, "eng")
	require.NoError(t, err)
	require.NotEqual(t, v1, edited, "other data for the same language is another version")
}

// TestCountPages counts the pages of each media type, and refuses what
// cannot be counted, as Inspect does.
func TestCountPages(t *testing.T) {
	t.Parallel()
	img := renderText(t, textA, 24)
	pngData := encodePNG(t, img)
	tests := []struct {
		name  string
		data  []byte
		media string
		pages int
	}{
		{"pdf", makePDF(t, []pdfPage{{text: textA}, {img: img}, {}}), ocr.MediaPDF, 3},
		{"tiff", testdocs.TIFF(binary.BigEndian, []testdocs.TIFFPage{{Img: img}, {Img: img}, {Img: img}, {Img: img}}), ocr.MediaTIFF, 4},
		{"png", pngData, ocr.MediaPNG, 1},
		{"jpeg", encodeJPEG(t, img), ocr.MediaJPEG, 1},
		// Only the header is read: the damage shows when the page is.
		{"png with damaged pixels", corrupt(pngData), ocr.MediaPNG, 1},
	}
	var e ocr.Engine
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := e.CountPages(context.Background(), writeFile(t, "doc", tt.data), tt.media)
			require.NoError(t, err)
			require.Equal(t, tt.pages, n)
		})
	}
	pdfPath := writeFile(t, "ok.pdf", makePDF(t, []pdfPage{{text: textA}}))
	for _, tt := range []struct {
		name  string
		path  string
		media string
		kind  string
	}{
		{"encrypted pdf", encryptPDF(t, pdfPath, "user-secret"), ocr.MediaPDF, string(ocr.KindEncrypted)},
		{"pdf without pages", writeFile(t, "none.pdf", makePDF(t, nil)), ocr.MediaPDF, string(ocr.KindEmpty)},
		{"garbage pdf", writeFile(t, "bad.pdf", []byte("%PDF-1.4\nnot really\n")), ocr.MediaPDF, string(ocr.KindUnreadable)},
		{"huge png", writeFile(t, "huge.png", pngHeader(100_000, 100_000)), ocr.MediaPNG, string(ocr.KindTooLarge)},
		{"truncated tiff", writeFile(t, "cut.tif", testdocs.TIFF(binary.LittleEndian, []testdocs.TIFFPage{{Img: img}})[:100]), ocr.MediaTIFF, string(ocr.KindUnreadable)},
		{"empty", writeFile(t, "empty.pdf", nil), ocr.MediaPDF, string(ocr.KindEmpty)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.CountPages(context.Background(), tt.path, tt.media)
			var de *ocr.DocumentError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tt.kind, string(de.Kind), "error: %v", err)
		})
	}
}
