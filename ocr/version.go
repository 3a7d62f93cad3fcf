package ocr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// PipelineVersion names the way this package turns a page into text: the
// rules for choosing a page's method, the rasterisation, the blank check
// and the cleaning of the text. Bump it with any change that can change a
// page's text for the same tools, so that texts cached under the old
// Version are not served for the new pipeline.
const PipelineVersion = "2"

// versionCache remembers each Version (by everything it depends on but the
// files' contents), so that tools are run and language files hashed once
// per worker, not once per page. It lives outside Engine because an Engine
// is a plain value, copied freely, whose zero value is ready to use.
var versionCache sync.Map

// Version returns a stable string naming everything that decides the text
// of a page read for language lang (empty means DefaultLanguage): this
// package's PipelineVersion, the Engine's DPI and MaxPixels (which lowers
// the resolution of large pages), the tesseract and
// leptonica versions, a hash of the content of each language's traineddata
// file (content rather than path or time, so that workers installed apart
// with the same data agree), and the poppler version. Two Engines with the
// same Version give the same text for the same page, so it is fit for a
// cache key. For example:
//
//	docket-ocr/2 dpi=300 maxpx=100000000 tesseract/5.3.0 leptonica/1.82.0 poppler/22.12.0 eng:7d4322bd2a774972
//
// It is computed once per tesseract, poppler, TESSDATA_PREFIX, DPI,
// MaxPixels and language, and cached: tools or data replaced while the worker runs are
// seen after a restart. A language that is malformed or not installed is
// a *DocumentError of KindUnsupportedLanguage.
func (e *Engine) Version(ctx context.Context, lang string) (string, error) {
	v, err := e.version(ctx, lang)
	return v, wrap(err, "ocr version")
}

func (e *Engine) version(ctx context.Context, lang string) (string, error) {
	if lang == "" {
		lang = DefaultLanguage
	}
	if err := e.checkLanguage(ctx, lang); err != nil {
		return "", err
	}
	key := strings.Join([]string{e.tesseract(), e.pdftoppm(), os.Getenv("TESSDATA_PREFIX"),
		strconv.Itoa(e.dpi()), strconv.FormatInt(e.maxPixels(), 10), lang}, "\x00")
	if v, ok := versionCache.Load(key); ok {
		return v.(string), nil
	}
	tess, err := e.tesseractVersion(ctx)
	if err != nil {
		return "", err
	}
	poppler, err := e.popplerVersion(ctx)
	if err != nil {
		return "", err
	}
	data, err := e.languageData(ctx, lang)
	if err != nil {
		return "", err
	}
	v := fmt.Sprintf("docket-ocr/%s dpi=%d maxpx=%d %s poppler/%s %s", PipelineVersion, e.dpi(), e.maxPixels(), tess, poppler, data)
	versionCache.Store(key, v)
	return v, nil
}

var (
	tesseractVersionRE = regexp.MustCompile(`(?m)^tesseract\s+(\S+)`)
	leptonicaVersionRE = regexp.MustCompile(`(?m)leptonica-(\S+)`)
	popplerVersionRE   = regexp.MustCompile(`version\s+(\S+)`)
	tessdataDirRE      = regexp.MustCompile(`available languages in "([^"]+)"`)
)

// tesseractVersion is "tesseract/X leptonica/Y" from tesseract --version
// (which prints it on standard output, its libraries' versions after).
func (e *Engine) tesseractVersion(ctx context.Context) (string, error) {
	out, stderr, err := runTool(ctx, toolRun{}, e.tesseract(), "--version")
	if err != nil {
		return "", fmt.Errorf("tesseract version: %w", err)
	}
	text := string(out) + stderr
	t := tesseractVersionRE.FindStringSubmatch(text)
	l := leptonicaVersionRE.FindStringSubmatch(text)
	if t == nil || l == nil {
		return "", fmt.Errorf("tesseract --version: no version in %q", firstLine(text))
	}
	return "tesseract/" + t[1] + " leptonica/" + l[1], nil
}

// popplerVersion is pdftoppm's version, which poppler's tools share; they
// print it on standard error.
func (e *Engine) popplerVersion(ctx context.Context) (string, error) {
	out, stderr, err := runTool(ctx, toolRun{}, e.pdftoppm(), "-v")
	if err != nil {
		return "", fmt.Errorf("poppler version: %w", err)
	}
	m := popplerVersionRE.FindStringSubmatch(stderr + string(out))
	if m == nil {
		return "", fmt.Errorf("pdftoppm -v: no version in %q", firstLine(stderr))
	}
	return m[1], nil
}

// languageData is "eng:<hash>" for each language of lang, joined by "+":
// the first 16 hex digits of the SHA-256 of its traineddata file, in the
// directory tesseract --list-langs names.
func (e *Engine) languageData(ctx context.Context, lang string) (string, error) {
	out, stderr, err := runTool(ctx, toolRun{}, e.tesseract(), "--list-langs")
	if err != nil {
		return "", fmt.Errorf("list tesseract languages: %w", err)
	}
	m := tessdataDirRE.FindStringSubmatch(string(out) + stderr)
	if m == nil {
		return "", fmt.Errorf("tesseract --list-langs: no data directory in %q", firstLine(string(out)))
	}
	var parts []string
	for _, l := range strings.Split(lang, "+") {
		// checkLanguage has made sure l is a plain name.
		sum, err := hashFile(filepath.Join(m[1], l+".traineddata"))
		if err != nil {
			return "", fmt.Errorf("language %s: %w", l, err)
		}
		parts = append(parts, l+":"+sum[:16])
	}
	return strings.Join(parts, "+"), nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
