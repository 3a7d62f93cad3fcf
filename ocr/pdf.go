package ocr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// How a PDF page is read. A page's images decide whether it is OCRed, not
// how much text its text layer holds: a title page of 29 characters is
// read from its text layer like any other, and a document of thousands of
// one-line pages costs no rasterisation. Rules, in order:
//
//  1. A page with any image (pdfimages lists it) is rasterised and OCRed:
//     it is a scan, or a text layer covers only part of it (a stamp such
//     as "Scanned with CamScanner", a caption beside a picture).
//  2. A page without images whose text layer decodes cleanly (see
//     cleanTextLayer) is its text layer, however short.
//  3. A page with neither images nor text is empty: its text is "" and it
//     is not rasterised, since there is nothing to recognise.
//  4. A page without images whose text layer is garbage (a font without a
//     Unicode mapping) is OCRed: its glyphs are drawn, only not decodable.
//
// A page whose text is drawn as vector outlines (no font, no image) falls
// under rule 3 and reads as empty; such PDFs are rare, and recognising
// them would mean rasterising every blank page to find out.

// maxPrivateUseShare bounds the private-use code points a clean text layer
// may hold, as one in so many of its other non-space characters. Symbol
// fonts (Wingdings bullets, icon fonts) map a few glyphs there in text that
// is otherwise real; a font without a Unicode mapping maps all of them.
const maxPrivateUseShare = 10

// cleanTextLayer reports whether text, pdftotext's output for one page,
// decodes cleanly: it has some non-space character, no U+FFFD (poppler's
// mark for a glyph it could not map to Unicode, which loses that text), no
// control characters other than white space, and few private-use code
// points (see maxPrivateUseShare).
func cleanTextLayer(text string) bool {
	var good, private int
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
		case r == unicode.ReplacementChar || unicode.IsControl(r):
			return false
		case unicode.Is(unicode.Co, r):
			private++
		default:
			good++
		}
	}
	return good > 0 && private*maxPrivateUseShare <= good
}

// isBlank reports whether text has nothing but white space.
func isBlank(text string) bool {
	return strings.TrimFunc(text, unicode.IsSpace) == ""
}

// Limits on the tools that read a whole document at once (ReadTextLayer).
// Beyond them the document's pages are read one by one instead, which is
// slower but bounded per page; a document is never failed for them.
const (
	// layerTimeout bounds one whole-document pdftotext or pdfimages run:
	// pdftotext reads about a thousand plain pages a second, so a document
	// that takes longer is hostile or broken rather than long.
	layerTimeout = 2 * time.Minute
	// maxLayerText bounds pdftotext's output for a whole document, which
	// is held in memory: 64 MiB is some 20,000 dense pages, while a PDF
	// can repeat a text object to make gigabytes of output.
	maxLayerText = 64 << 20
	// maxImageList bounds pdfimages -list's output, about 100 bytes per
	// image.
	maxImageList = 16 << 20
)

// Poppler's exit statuses (see the tools' man pages).
const (
	popplerErrOpen       = 1 // error opening the PDF file
	popplerErrPermission = 3 // error related to PDF permissions
)

// pdfInfo is what pdfinfo says about a document (and one page of it).
type pdfInfo struct {
	pages     int
	encrypted bool
	// width and height are the page's size in points, when one was asked.
	width, height float64
}

var pdfPageSizeRE = regexp.MustCompile(`(?m)^Page\s+(\d+)\s+size:\s+([0-9.]+) x ([0-9.]+) pts`)

// pdfInfo runs pdfinfo on the document, and on page page too when it is
// not 0. A document poppler cannot open is a DocumentError.
func (e *Engine) pdfInfo(ctx context.Context, path string, page int) (pdfInfo, error) {
	args := []string{}
	if page > 0 {
		args = append(args, "-f", strconv.Itoa(page), "-l", strconv.Itoa(page))
	}
	out, err := run(ctx, nil, e.pdfinfo(), append(args, path)...)
	var te *toolError
	if errors.As(err, &te) && te.code != popplerErrOpen && strings.Contains(te.stderr, "Wrong page range") {
		// pdfinfo refuses a page past the last one, and any page (the
		// first one by default) of a PDF without pages. Without a page
		// asked for, that is the latter; with one, ask for the page count
		// to say which.
		if page == 0 {
			return pdfInfo{}, docErr(KindEmpty, "the PDF has no pages")
		}
		info, err := e.pdfInfo(ctx, path, 0)
		if err != nil {
			return pdfInfo{}, err
		}
		return pdfInfo{}, fmt.Errorf("the PDF has %d pages: %w", info.pages, ErrPageRange)
	}
	if err != nil {
		return pdfInfo{}, classifyPoppler(err, path)
	}
	// The last "Pages:" and "Encrypted:" lines count: pdfinfo prints the
	// document's title and other metadata first, verbatim, so a title with
	// a line break could forge an earlier one.
	var pagesValue, encryptedValue string
	for _, line := range strings.Split(string(out), "\n") {
		key, value, _ := strings.Cut(line, ":")
		switch key {
		case "Pages":
			pagesValue = strings.TrimSpace(value)
		case "Encrypted":
			encryptedValue = strings.TrimSpace(value)
		}
	}
	var info pdfInfo
	if info.pages, err = strconv.Atoi(pagesValue); err != nil {
		return pdfInfo{}, fmt.Errorf("pdfinfo: page count %q: %w", pagesValue, err)
	}
	info.encrypted = strings.HasPrefix(encryptedValue, "yes")
	if info.pages <= 0 {
		return pdfInfo{}, docErr(KindEmpty, "the PDF has no pages")
	}
	if page > 0 {
		for _, m := range pdfPageSizeRE.FindAllStringSubmatch(string(out), -1) {
			if n, _ := strconv.Atoi(m[1]); n == page {
				info.width, _ = strconv.ParseFloat(m[2], 64)
				info.height, _ = strconv.ParseFloat(m[3], 64)
			}
		}
	}
	return info, nil
}

// classifyPoppler turns a poppler tool's failure to open the document into
// a DocumentError; other failures (killed, cancelled, missing tool) are
// returned as they are.
func classifyPoppler(err error, path string) error {
	var te *toolError
	if !errors.As(err, &te) {
		return err
	}
	switch {
	case strings.Contains(te.stderr, "Incorrect password"), te.code == popplerErrPermission:
		return docErr(KindEncrypted, "the PDF is encrypted and needs a password to open")
	case te.code == popplerErrOpen:
		return docErr(KindUnreadable, "the PDF cannot be read (%s)", redact(te.detail(), path))
	}
	return err
}

// redact keeps local paths out of messages meant for the job's submitter.
func redact(s string, paths ...string) string {
	for _, p := range paths {
		if p == "" {
			continue // ReplaceAll would insert the base between every byte
		}
		s = strings.ReplaceAll(s, p, filepath.Base(p))
	}
	return s
}

// pdfPage returns the text of one PDF page, read by the rules above: its
// text layer, "" for an empty page, or OCR of its rasterisation.
func (e *Engine) pdfPage(ctx context.Context, path string, page int, lang string) (Page, error) {
	info, err := e.pdfInfo(ctx, path, page)
	if err != nil {
		return Page{}, err
	}
	if page > info.pages {
		return Page{}, fmt.Errorf("the PDF has %d pages: %w", info.pages, ErrPageRange)
	}
	images, err := e.pdfImages(ctx, path, page, page, 0)
	if err != nil {
		return Page{}, err
	}
	if images[page] == 0 {
		n := strconv.Itoa(page)
		out, err := run(ctx, nil, e.pdftotext(), "-layout", "-enc", "UTF-8", "-nopgbrk", "-f", n, "-l", n, path, "-")
		if err != nil {
			return Page{}, classifyPoppler(err, path)
		}
		if p, ok := textLayerPage(page, string(out)); ok {
			return p, nil
		}
	}
	return e.ocrPDFPage(ctx, path, info, page, lang)
}

// textLayerPage applies rules 2 and 3 to a page without images: its text
// layer when that is clean, an empty page when it holds nothing; false
// when the page must be OCRed.
func textLayerPage(page int, raw string) (Page, bool) {
	text := cleanText(raw)
	if isBlank(text) {
		return Page{Number: page, Text: "", Method: MethodTextLayer}, true
	}
	if cleanTextLayer(text) {
		return Page{Number: page, Text: text, Method: MethodTextLayer}, true
	}
	return Page{}, false
}

// ocrPDFPage rasterises one page with pdftoppm and OCRs it, unless the
// raster is blank. The raster is an 8-bit PGM passed through memory, from
// pdftoppm's standard output to tesseract's standard input: PNG would cost
// an encoding and a decoding of some 8 megapixels per page (half a second
// together), and a file would cost a write and a read.
func (e *Engine) ocrPDFPage(ctx context.Context, path string, info pdfInfo, page int, lang string) (Page, error) {
	dpi, err := e.rasterDPI(info)
	if err != nil {
		return Page{}, err
	}
	n := strconv.Itoa(page)
	// The raster's size follows from the page size pdfinfo reported; the
	// limit on pdftoppm's output enforces it rather than trusting that.
	limit := e.maxPixels()
	out, warnings, err := runTool(ctx, toolRun{maxOut: int(min(limit, math.MaxInt32)) + maxPGMHeader},
		e.pdftoppm(), "-gray", "-r", strconv.Itoa(dpi), "-f", n, "-l", n, "-singlefile", path)
	if errors.Is(err, errOutputTooLarge) {
		return Page{}, docErr(KindTooLarge, "page %d is more than %d pixels at %d DPI", page, limit, dpi)
	}
	if err != nil {
		return Page{}, classifyPoppler(err, path)
	}
	if damage := pageDamage(warnings); damage != "" {
		return Page{}, &PageError{Page: page, Kind: KindPageUnreadable,
			Msg: fmt.Sprintf("the page's content is damaged (%s)", redact(damage, path))}
	}
	raster, err := parsePGM(out)
	if err != nil {
		return Page{}, fmt.Errorf("pdftoppm output: %w", err)
	}
	if err := e.checkPixels(int64(raster.Rect.Dx()), int64(raster.Rect.Dy())); err != nil {
		return Page{}, err
	}
	if e.isBlankPage(raster, dpi) {
		return Page{Number: page, Text: "", Method: MethodBlank}, nil
	}
	text, err := e.ocrStdin(ctx, out, lang, dpi)
	if err != nil {
		return Page{}, err
	}
	return Page{Number: page, Text: text, Method: MethodOCR}, nil
}

// maxPGMHeader bounds the header of a PGM from pdftoppm ("P5\n2550
// 3300\n255\n"), which comes on top of its pixels.
const maxPGMHeader = 64

// pageDamageRE matches the errors poppler prints, while still rendering
// the page and exiting 0, when the page's image data cannot be decoded:
// "Syntax Error (3200): Unknown compression method in flate stream", "Bad
// DCT data", "Bad image parameters" and their kin. Other errors poppler
// reports on a page it renders (a font's odd metrics, a repaired cross-
// reference table) do not make the page unreadable.
var pageDamageRE = regexp.MustCompile(`(?i)error.*(flate stream|lzw stream|ccittfax|\bdct\b|\bjpx\b|jbig2|\bimage\b)`)

// pageDamage returns the first line of a poppler tool's warnings that
// says the page's image data is damaged, or "".
func pageDamage(warnings string) string {
	for _, l := range strings.Split(warnings, "\n") {
		if pageDamageRE.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// rasterDPI is the resolution at which a page is rasterised: Engine.DPI,
// lowered for a physically large page (a poster, a drawing) so that it
// fits MaxPixels. A page too large even at minDPI is KindTooLarge.
func (e *Engine) rasterDPI(info pdfInfo) (int, error) {
	dpi := e.dpi()
	if info.width <= 0 || info.height <= 0 {
		// pdfinfo gave no size; pdftoppm falls back to a letter-sized page
		// and checkImageSize still guards the result.
		return dpi, nil
	}
	pixels := (info.width / 72 * float64(dpi)) * (info.height / 72 * float64(dpi))
	limit := float64(e.maxPixels())
	if pixels <= limit {
		return dpi, nil
	}
	scaled := int(math.Floor(float64(dpi) * math.Sqrt(limit/pixels)))
	if scaled < minDPI {
		return 0, docErr(KindTooLarge, "the page measures %.0f x %.0f inches, too large to OCR even at %d DPI",
			info.width/72, info.height/72, minDPI)
	}
	return scaled, nil
}
