// Package ocr extracts the text of documents (PDF, PNG, JPEG, TIFF) page by
// page for Docket's document job. It runs the real tools rather than
// linking them: poppler's pdfinfo, pdfimages, pdftotext and pdftoppm, and
// tesseract, which scripts/deps.sh installs. A tool crashing or being
// killed then costs one attempt of one page, never the worker.
//
// Documents that can never be processed are reported as *DocumentError so
// that the caller can fail the job once instead of retrying; every other
// error is worth retrying, or is the context's own error.
package ocr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// Defaults for the Engine's zero value.
const (
	// DefaultDPI is the rasterisation resolution of image-only PDF pages:
	// tesseract is trained on text around 300 DPI, and at lower
	// resolutions small print loses accuracy quickly.
	DefaultDPI = 300
	// DefaultMaxPixels bounds one page's pixels: tesseract and leptonica
	// hold several copies of a page, about 1 GiB in all at this size,
	// while an A3 page at 300 DPI is only 17 megapixels.
	DefaultMaxPixels int64 = 100_000_000
	// DefaultLanguage is used when PageText is given no language.
	DefaultLanguage = "eng"
	// DefaultPageTimeout bounds one PageText call when
	// Engine.PageTimeout is 0. tesseract reads a dense page at 300 DPI in
	// a few seconds on one thread; a page that takes minutes is hostile
	// (a huge vector drawing, a pathological image), and retrying it
	// would only take minutes again.
	DefaultPageTimeout = 2 * time.Minute
)

// minDPI is the lowest resolution a PDF page is shrunk to in order to fit
// MaxPixels; below it text of ordinary size is no longer recognisable, so
// such a page is reported as too large instead.
const minDPI = 72

// Extraction methods reported in Page.Method.
const (
	MethodTextLayer = "text-layer"
	MethodOCR       = "ocr"
)

// Engine runs the tools. Its zero value is usable: each tool is looked up
// on PATH under its usual name, with the defaults above. An Engine is not
// modified by its methods and may be shared between goroutines.
type Engine struct {
	// Tesseract, PDFToText, PDFToPPM, PDFInfo and PDFImages are the
	// tools' paths or names; empty means "tesseract", "pdftotext" and so
	// on.
	Tesseract, PDFToText, PDFToPPM, PDFInfo, PDFImages string
	// DPI is the resolution at which image-only PDF pages are rasterised
	// for OCR; 0 means DefaultDPI.
	DPI int
	// MaxPixels is the largest page, in pixels, that is OCRed; 0 means
	// DefaultMaxPixels. Larger images are KindTooLarge; larger PDF pages
	// are rasterised at a lower resolution, down to 72 DPI.
	MaxPixels int64
	// TempDir is where single-page TIFFs are written while a page is
	// processed (and removed before PageText returns); empty means
	// os.TempDir(). PDF page rasters stay in memory.
	TempDir string
	// PageTimeout bounds one PageText call, all its tools included
	// (pdftoppm's rendering and tesseract's recognition above all): a
	// page that takes longer is a *PageError of KindPageTimeout, and its
	// tools are killed. 0 means DefaultPageTimeout; a negative value, no
	// limit but the context's.
	PageTimeout time.Duration
}

// Info describes a document as a whole.
type Info struct {
	// MediaType is the media type Inspect was given (and verified).
	MediaType string
	// Pages is the number of pages, at least 1.
	Pages int
	// Encrypted is true for a PDF that is encrypted but opens without a
	// password (an owner password only restricts what readers allow).
	Encrypted bool
}

// Page is the text of one page.
type Page struct {
	// Number is the page's 1-based number.
	Number int
	// Text is the page's text, without trailing white space or form feeds.
	Text string
	// Method is MethodTextLayer, MethodOCR or MethodBlank. An empty PDF
	// page (no text, no images) is MethodTextLayer with empty Text; a
	// page whose image is blank (see blank.go) is MethodBlank with empty
	// Text, and was not OCRed.
	Method string
}

func (e *Engine) tesseract() string { return orDefault(e.Tesseract, "tesseract") }
func (e *Engine) pdftotext() string { return orDefault(e.PDFToText, "pdftotext") }
func (e *Engine) pdftoppm() string  { return orDefault(e.PDFToPPM, "pdftoppm") }
func (e *Engine) pdfinfo() string   { return orDefault(e.PDFInfo, "pdfinfo") }
func (e *Engine) pdfimages() string { return orDefault(e.PDFImages, "pdfimages") }

func (e *Engine) dpi() int {
	if e.DPI > 0 {
		return e.DPI
	}
	return DefaultDPI
}

func (e *Engine) maxPixels() int64 {
	if e.MaxPixels > 0 {
		return e.MaxPixels
	}
	return DefaultMaxPixels
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Inspect opens the document at path (already sniffed as mediaType) and
// returns its page count. A document that cannot be processed is a
// *DocumentError: corrupt or truncated, encrypted, without pages, or with a
// page over MaxPixels (images only: PDF pages are checked by PageText,
// which can lower their resolution).
func (e *Engine) Inspect(ctx context.Context, path, mediaType string) (Info, error) {
	info, err := e.inspect(ctx, path, mediaType)
	return info, wrap(err, "ocr inspect")
}

func (e *Engine) inspect(ctx context.Context, path, mediaType string) (Info, error) {
	path, err := absPath(path)
	if err != nil {
		return Info{}, err
	}
	if err := checkMedia(path, mediaType); err != nil {
		return Info{}, err
	}
	info := Info{MediaType: mediaType}
	switch mediaType {
	case MediaPDF:
		pi, err := e.pdfInfo(ctx, path, 0)
		if err != nil {
			return Info{}, err
		}
		info.Pages, info.Encrypted = pi.pages, pi.encrypted
	case MediaPNG, MediaJPEG:
		if _, err := e.checkImage(path, mediaType); err != nil {
			return Info{}, err
		}
		info.Pages = 1
	case MediaTIFF:
		pages, err := e.tiffPages(path)
		if err != nil {
			return Info{}, err
		}
		info.Pages = len(pages)
	}
	return info, nil
}

// PageText returns the text of one page (1-based) of the document at path.
// A PDF page without images is its text layer, read with pdftotext, when
// that decodes cleanly, however short, and "" when it has none; a PDF page
// with images (or a garbled text layer) is rasterised with pdftoppm and
// OCRed (see pdf.go for the rules); images are OCRed directly. To read many
// pages of one PDF, ReadTextLayer first reads the pages that need no OCR in
// one go.
// lang is a tesseract language such as "eng" or "eng+deu" (empty means
// DefaultLanguage); it is checked on every call, text-layer pages included,
// so that a bad language fails a job whatever its document holds.
//
// A page image that is blank (see blank.go) is not OCRed: its Text is ""
// and its Method MethodBlank.
//
// Errors: a document that cannot be processed is a *DocumentError; a page
// that cannot be read while the document can (its image data is damaged,
// or it took longer than PageTimeout) is a *PageError; ctx's own
// cancellation or deadline is ctx.Err(), wrapped; anything else is a tool
// or system failure worth retrying.
func (e *Engine) PageText(ctx context.Context, path, mediaType string, page int, lang string) (Page, error) {
	pageCtx, cancel := ctx, context.CancelFunc(func() {})
	timeout := e.pageTimeout()
	if timeout > 0 {
		pageCtx, cancel = context.WithTimeoutCause(ctx, timeout, errPageTimeout)
	}
	defer cancel()
	p, err := e.pageText(pageCtx, path, mediaType, page, lang)
	// The caller's own context comes first: a page that its caller gave
	// up on did not time out, even if both happened at once.
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(pageCtx), errPageTimeout) {
		return Page{}, &PageError{Page: page, Kind: KindPageTimeout,
			Msg: fmt.Sprintf("reading the page took longer than %v", timeout)}
	}
	return p, wrap(err, fmt.Sprintf("ocr page %d", page))
}

// errPageTimeout is the cause of a page's context running out of
// PageTimeout, which tells it from the caller's deadline.
var errPageTimeout = errors.New("page timeout")

func (e *Engine) pageTimeout() time.Duration {
	if e.PageTimeout == 0 {
		return DefaultPageTimeout
	}
	return e.PageTimeout
}

func (e *Engine) pageText(ctx context.Context, path, mediaType string, page int, lang string) (Page, error) {
	if lang == "" {
		lang = DefaultLanguage
	}
	path, err := absPath(path)
	if err != nil {
		return Page{}, err
	}
	if page < 1 {
		return Page{}, ErrPageRange
	}
	if err := e.checkLanguage(ctx, lang); err != nil {
		return Page{}, err
	}
	if err := checkMedia(path, mediaType); err != nil {
		return Page{}, err
	}
	switch mediaType {
	case MediaPDF:
		return e.pdfPage(ctx, path, page, lang)
	case MediaTIFF:
		return e.tiffPage(ctx, path, page, lang)
	default: // PNG or JPEG, as checkMedia allows nothing else
		return e.imagePage(ctx, path, mediaType, page, lang)
	}
}

// wrap adds context to an error, except to a DocumentError or a
// PageError, whose message is meant for the job's submitter as it is.
func wrap(err error, prefix string) error {
	var de *DocumentError
	var pe *PageError
	if err == nil || errors.As(err, &de) || errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// imagePage OCRs a PNG or JPEG, which has exactly one page.
func (e *Engine) imagePage(ctx context.Context, path, mediaType string, page int, lang string) (Page, error) {
	if page != 1 {
		return Page{}, fmt.Errorf("a %s has one page: %w", mediaName(mediaType), ErrPageRange)
	}
	img, err := e.checkImage(path, mediaType)
	if err != nil {
		return Page{}, err
	}
	if e.isBlankPage(img, 0) {
		return Page{Number: page, Text: "", Method: MethodBlank}, nil
	}
	text, err := e.ocr(ctx, path, lang, 0)
	if err != nil {
		return Page{}, err
	}
	return Page{Number: page, Text: text, Method: MethodOCR}, nil
}

// absPath makes path absolute, which also keeps a name starting with "-"
// from being read as an option by the tools.
func absPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty document path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("document path: %w", err)
	}
	return abs, nil
}

// tempDir makes a private directory for one page's intermediate files; the
// caller removes it.
func (e *Engine) tempDir() (string, error) {
	dir, err := os.MkdirTemp(e.TempDir, "docket-ocr-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	// Absolute, like the document's path, so that no argument built from
	// it can look like an option.
	abs, err := filepath.Abs(dir)
	if err != nil {
		removeAll(dir)
		return "", fmt.Errorf("temp dir: %w", err)
	}
	return abs, nil
}

// cleanText drops the form feeds the tools put between pages and trailing
// white space, which carry no content.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\f", "")
	return strings.TrimRightFunc(s, unicode.IsSpace)
}
