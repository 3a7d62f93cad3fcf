package ocr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// TextLayer holds the pages of a PDF that need no OCR, read for the whole
// document at once by ReadTextLayer: one pdfimages and one pdftotext run
// instead of several tools per page, which is what makes a document of
// thousands of text pages cheap. A nil *TextLayer holds no pages.
type TextLayer struct {
	// pages[i] is page i+1; ok[i] says it was read here (Method
	// MethodTextLayer) rather than left to PageText for OCR.
	pages []Page
	ok    []bool
}

// Page returns page n (1-based) when its text layer, or its emptiness, is
// its text by the rules PageText follows, and false when the page must be
// read with PageText (it has images, its text layer is garbage, or the
// document could not be read whole).
func (l *TextLayer) Page(n int) (Page, bool) {
	if l == nil || n < 1 || n > len(l.pages) || !l.ok[n-1] {
		return Page{}, false
	}
	return l.pages[n-1], true
}

// Len is how many pages ReadTextLayer read without OCR.
func (l *TextLayer) Len() int {
	if l == nil {
		return 0
	}
	n := 0
	for _, ok := range l.ok {
		if ok {
			n++
		}
	}
	return n
}

// ReadTextLayer reads a PDF's text layer and image list once, for the whole
// document, and returns the pages that need no OCR, each exactly as PageText
// would return it. Any other media type gives a nil *TextLayer. lang is
// checked as by PageText, so that a bad language fails a job even when no
// page is OCRed.
//
// A document that cannot be processed is a *DocumentError. A document that
// is too slow or too verbose to read whole (see layerTimeout, maxLayerText)
// or that a tool fails on as a whole gives a nil *TextLayer and no error:
// its pages are then read one by one with PageText, as correct and only
// slower.
func (e *Engine) ReadTextLayer(ctx context.Context, path, mediaType, lang string) (*TextLayer, error) {
	l, err := e.readTextLayer(ctx, path, mediaType, lang)
	return l, wrap(err, "ocr text layer")
}

func (e *Engine) readTextLayer(ctx context.Context, path, mediaType, lang string) (*TextLayer, error) {
	if lang == "" {
		lang = DefaultLanguage
	}
	path, err := absPath(path)
	if err != nil {
		return nil, err
	}
	if err := e.checkLanguage(ctx, lang); err != nil {
		return nil, err
	}
	if err := checkMedia(path, mediaType); err != nil {
		return nil, err
	}
	if mediaType != MediaPDF {
		return nil, nil
	}
	info, err := e.pdfInfo(ctx, path, 0)
	if err != nil {
		return nil, err
	}
	images, texts, err := e.readWhole(ctx, path, info.pages)
	var de *DocumentError
	switch {
	case err == nil:
	case errors.As(err, &de), ctx.Err() != nil:
		return nil, err
	default:
		slog.Warn("ocr: reading the PDF page by page instead", "pages", info.pages, "err", err)
		return nil, nil
	}
	l := &TextLayer{pages: make([]Page, info.pages), ok: make([]bool, info.pages)}
	for i, raw := range texts {
		if images[i+1] > 0 {
			continue
		}
		l.pages[i], l.ok[i] = textLayerPage(i+1, raw)
	}
	return l, nil
}

// readWhole runs pdfimages -list and pdftotext once each on the whole
// document, within layerTimeout, and returns the images per page and each
// page's raw text.
func (e *Engine) readWhole(ctx context.Context, path string, pages int) (map[int]int, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, layerTimeout)
	defer cancel()
	images, err := e.pdfImages(ctx, path, 1, pages, maxImageList)
	if err != nil {
		return nil, nil, err
	}
	out, err := runCapped(ctx, nil, maxLayerText, e.pdftotext(), "-layout", "-enc", "UTF-8", path, "-")
	if err != nil {
		return nil, nil, classifyPoppler(err, path)
	}
	// pdftotext ends every page, empty ones included, with a form feed and
	// puts none inside one; anything else means the split would shift
	// pages, so it is not trusted.
	texts := strings.Split(string(out), "\f")
	if len(texts) != pages+1 || texts[pages] != "" {
		return nil, nil, fmt.Errorf("pdftotext gave %d form feeds for %d pages", len(texts)-1, pages)
	}
	return images, texts[:pages], nil
}

// pdfImages runs pdfimages -list on pages first to last and returns how
// many images each page has (pages without images are absent). maxOut
// bounds the listing's size (0: no bound).
func (e *Engine) pdfImages(ctx context.Context, path string, first, last, maxOut int) (map[int]int, error) {
	out, err := runCapped(ctx, nil, maxOut, e.pdfimages(), "-list",
		"-f", strconv.Itoa(first), "-l", strconv.Itoa(last), path)
	if err != nil {
		return nil, classifyPoppler(err, path)
	}
	return parseImageList(string(out))
}

// parseImageList reads pdfimages -list's table: a heading line starting
// with "page", a line of dashes, then one line per image whose first column
// is its page. Soft masks and stencil masks have lines of their own; any
// line counts, as only whether a page has images matters.
func parseImageList(out string) (map[int]int, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "page") || !strings.HasPrefix(lines[1], "---") {
		return nil, fmt.Errorf("pdfimages -list: unexpected heading %q", strings.Join(lines[:min(2, len(lines))], "\\n"))
	}
	images := map[int]int{}
	for _, line := range lines[2:] {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		page, err := strconv.Atoi(fields[0])
		if err != nil || page < 1 {
			return nil, fmt.Errorf("pdfimages -list: line %q: no page number", line)
		}
		images[page]++
	}
	return images, nil
}
