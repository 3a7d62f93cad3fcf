package ocr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG for image.Decode
	_ "image/png"  // registers PNG for image.Decode
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// tesseractEnv is added to tesseract's environment. tesseract's OpenMP
// threads spin-wait on each other; with more threads than free cores (two
// cores, several pages at once) that makes it several times slower, and
// Docket gets its parallelism from running pages concurrently instead.
var tesseractEnv = []string{"OMP_THREAD_LIMIT=1"}

// langRE is the shape of a tesseract language argument: names joined by
// "+". Checking it keeps a language from being taken as another option.
var langRE = regexp.MustCompile(`^[a-z_]{3,}(\+[a-z_]{3,})*$`)

// notLanguages are data files tesseract lists that do not recognise text.
var notLanguages = []string{"osd", "equ"}

// langCache remembers each tesseract's installed languages (by binary and
// data directory), so that the check costs one process per worker, not one
// per page. Only a miss triggers a new listing, so languages installed
// while the worker runs are found.
var langCache sync.Map

// Languages lists the languages the engine's tesseract can recognise.
func (e *Engine) Languages(ctx context.Context) ([]string, error) {
	out, err := run(ctx, nil, e.tesseract(), "--list-langs")
	if err != nil {
		return nil, fmt.Errorf("list tesseract languages: %w", err)
	}
	var langs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		// The first line is a heading ("List of available languages in
		// ..."); names never contain spaces.
		if l == "" || strings.ContainsAny(l, " :") || slices.Contains(notLanguages, l) {
			continue
		}
		langs = append(langs, l)
	}
	slices.Sort(langs)
	return langs, nil
}

// checkLanguage returns a KindUnsupportedLanguage DocumentError unless lang
// is well formed and every language in it is installed. tesseract itself
// only warns about a missing language when another one in the list loads,
// and would quietly recognise less.
func (e *Engine) checkLanguage(ctx context.Context, lang string) error {
	if !langRE.MatchString(lang) {
		return docErr(KindUnsupportedLanguage, "language %q is not of the form eng or eng+deu", lang)
	}
	wanted := strings.Split(lang, "+")
	key := e.tesseract() + "\x00" + os.Getenv("TESSDATA_PREFIX")
	if cached, ok := langCache.Load(key); ok && containsAll(cached.([]string), wanted) {
		return nil
	}
	langs, err := e.Languages(ctx)
	if err != nil {
		return err
	}
	langCache.Store(key, langs)
	for _, w := range wanted {
		if !slices.Contains(langs, w) {
			return docErr(KindUnsupportedLanguage, "language %q is not installed (installed: %s)", w, strings.Join(langs, ", "))
		}
	}
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// ocr runs tesseract on one single-page image file and returns its text.
// dpi, when not 0, tells tesseract the resolution of a raster that carries
// none, which spares it a guess.
func (e *Engine) ocr(ctx context.Context, imagePath, lang string, dpi int) (string, error) {
	return e.tesseractRun(ctx, imagePath, nil, imagePath, lang, dpi)
}

// ocrStdin is ocr for an image in memory (a raster of ours), passed on
// standard input.
func (e *Engine) ocrStdin(ctx context.Context, image []byte, lang string, dpi int) (string, error) {
	return e.tesseractRun(ctx, "stdin", image, "", lang, dpi)
}

// tesseractRun runs tesseract on input (a path, or "stdin" with the image
// in stdin); imagePath, if not "", is redacted from messages.
func (e *Engine) tesseractRun(ctx context.Context, input string, stdin []byte, imagePath, lang string, dpi int) (string, error) {
	args := []string{input, "stdout", "-l", lang}
	if dpi > 0 {
		args = append(args, "--dpi", strconv.Itoa(dpi))
	}
	out, warnings, err := runTool(ctx, toolRun{env: tesseractEnv, stdin: stdin}, e.tesseract(), args...)
	if err == nil && strings.Contains(warnings, "Error in pixRead") {
		// leptonica failed to decode the image (a TIFF page whose strips
		// do not decompress, say) and tesseract recognised nothing, yet
		// exited 0: the image is as unreadable as when it says so with
		// an exit status.
		return "", docErr(KindUnreadable, "the image cannot be decoded (%s)",
			redact((&toolError{stderr: warnings}).detail(), imagePath))
	}
	if err != nil {
		var te *toolError
		if errors.As(err, &te) && te.code > 0 {
			switch {
			case strings.Contains(te.stderr, "Failed loading language"),
				strings.Contains(te.stderr, "couldn't load any languages"):
				return "", docErr(KindUnsupportedLanguage, "tesseract cannot load language %q", lang)
			case strings.Contains(te.stderr, "cannot be read"),
				strings.Contains(te.stderr, "Error in pixRead"),
				strings.Contains(te.stderr, "Unsupported image type"):
				return "", docErr(KindUnreadable, "the image cannot be decoded (%s)", redact(te.detail(), imagePath))
			}
		}
		return "", err
	}
	return cleanText(string(out)), nil
}

// checkImage makes sure a PNG or JPEG is small enough and then decodes it
// whole, returning it: the header alone does not show a truncated or
// corrupt file, and tesseract would OCR what part of it decodes (libjpeg
// only warns about a truncated JPEG) rather than fail.
func (e *Engine) checkImage(path, mediaType string) (image.Image, error) {
	if err := e.checkImageSize(path, mediaType); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, docErr(KindUnreadable, "the %s image is damaged: %v", mediaName(mediaType), err)
	}
	return img, nil
}

// isBlankPage runs the blank check (see blank.go) on a page about to be
// OCRed; dpi is 0 when unknown.
func (e *Engine) isBlankPage(img image.Image, dpi int) bool {
	return analyseBlank(img, dpi).blank()
}

// checkImageSize reads only the header of a PNG or JPEG, so that an image
// claiming enormous dimensions is refused before anything allocates them.
func (e *Engine) checkImageSize(path, mediaType string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return docErr(KindUnreadable, "the %s header is damaged: %v", mediaName(mediaType), err)
	}
	return e.checkPixels(int64(cfg.Width), int64(cfg.Height))
}

// checkPixels refuses a page of no pixels or of more than MaxPixels.
func (e *Engine) checkPixels(w, h int64) error {
	if w <= 0 || h <= 0 {
		return docErr(KindUnreadable, "the image has no pixels (%d x %d)", w, h)
	}
	// Compare by division: w*h can overflow for hostile headers.
	if limit := e.maxPixels(); w > limit/h {
		return docErr(KindTooLarge, "the image is %d x %d pixels, more than the limit of %d", w, h, limit)
	}
	return nil
}

// removeAll removes a page's temporary directory. Failing to is no reason
// to fail the page, but is logged, as files would pile up.
func removeAll(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		slog.Warn("ocr: cannot remove temporary files", "dir", dir, "err", err)
	}
}
