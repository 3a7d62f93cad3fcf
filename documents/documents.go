// Package documents stores uploaded documents and the large outputs of
// document jobs in a blob store (gocloud.dev/blob: a local folder by
// default, S3-compatible storage in production). Documents are
// content-addressed: a document's id is the SHA-256 of its bytes, so the
// same bytes uploaded twice are one document.
package documents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// Drivers selected by DOCKET_BLOB_URL's scheme.
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/pagetoken"
	"github.com/docket-dev/docket/ocr"
)

// Errors of the store. The API maps them to HTTP statuses.
var (
	ErrNotFound         = errors.New("document not found")
	ErrTooLarge         = errors.New("document is too large")
	ErrUnsupportedMedia = errors.New("unsupported media type")
	ErrEmpty            = errors.New("document is empty")
	// ErrTooManyPages: the document has more pages than Store.MaxPages.
	ErrTooManyPages = errors.New("document has too many pages")
	// ErrUnavailable: the blob store failed to answer. It is the only
	// error of the store that is not the caller's fault; the API answers
	// it with 503.
	ErrUnavailable = errors.New("the blob store is unavailable")
	// ErrBadPageToken: a page token that List did not return for the same
	// search.
	ErrBadPageToken = errors.New("page token is not one this store returned for the same search")
)

// DefaultMaxBytes is the default size limit of an upload.
const DefaultMaxBytes = 50 << 20

// Document describes a stored document.
type Document struct {
	ID        string    `json:"id"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	MediaType string    `json:"media_type"`
	Filename  string    `json:"filename,omitempty"`
	Pages     int       `json:"pages,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Store keeps documents and job outputs in a bucket. A Store opened with
// Open holds the part of the bucket that belongs to no tenant (the layout
// from before tenants); ForTenant gives a tenant's part, under
// tenants/<tenant>/. Each part is content-addressed on its own: a tenant
// uploading bytes that another tenant uploaded gets its own record and
// learns nothing.
type Store struct {
	Bucket *blob.Bucket
	// Engine counts pages at upload; nil skips counting.
	Engine *ocr.Engine
	// MaxPages refuses, at upload, a document whose pages Engine counts
	// and finds more than this (0: no bound); the OCR step refuses it too,
	// for documents whose pages could not be counted here.
	MaxPages int
	// TempDir holds uploads while they are hashed; "" is the system default.
	TempDir string
	// Ring, when set, encrypts every object the store writes (envelope
	// encryption: a data key per object, wrapped by the ring's active
	// key); objects written without one are still read. Ids stay the
	// SHA-256 of the plain bytes.
	Ring *crypt.Ring

	prefix string
}

// ForTenant returns the store of a tenant's documents and job outputs, on
// the same bucket; tenant "" is the part of no tenant. The tenant must be
// a valid tenant name (the API's keys and job.ValidTenant ensure it).
func (s *Store) ForTenant(tenant string) *Store {
	if s == nil {
		return nil
	}
	t := *s
	t.prefix = ""
	if tenant != "" {
		t.prefix = "tenants/" + tenant + "/"
	}
	return &t
}

// Open opens the bucket at url, e.g. "file:///var/lib/docket/blobs?create_dir=1"
// or "s3://docket?endpoint=http://minio:9000&use_path_style=true".
func Open(ctx context.Context, url string) (*Store, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		// The driver's message repeats the URL, whose query may carry
		// credentials: keep only the redacted form.
		return nil, fmt.Errorf("open blob store %q: %s", redact(url), strings.ReplaceAll(err.Error(), url, redact(url)))
	}
	return &Store{Bucket: b}, nil
}

// redact drops a URL's query, where credentials may be.
func redact(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i] + "?…"
	}
	return url
}

// idPattern is what a document id looks like: a lower-case SHA-256.
var idPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidID reports whether id can name a document.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func (s *Store) contentKey(id string) string { return s.prefix + "documents/" + id + "/content" }
func (s *Store) metaKey(id string) string    { return s.prefix + "documents/" + id + "/meta.json" }

// jobLinkKey marks that job jobID stored outputs derived from document id,
// so that deleting the document can find and delete them.
func (s *Store) jobLinkKey(id, jobID string) string {
	return s.prefix + "documents/" + id + "/jobs/" + jobID
}

// Put stores the document read from r (at most maxBytes) and returns it.
// created is false when the same bytes were stored before.
func (s *Store) Put(ctx context.Context, r io.Reader, filename string, maxBytes int64) (Document, bool, error) {
	tmp, err := os.CreateTemp(s.TempDir, "docket-upload-*")
	if err != nil {
		return Document{}, false, fmt.Errorf("buffer upload: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, maxBytes+1))
	if err != nil {
		return Document{}, false, fmt.Errorf("read upload: %w", err)
	}
	if n > maxBytes {
		return Document{}, false, fmt.Errorf("%w: over %d bytes", ErrTooLarge, maxBytes)
	}
	if n == 0 {
		return Document{}, false, ErrEmpty
	}
	head := make([]byte, ocr.SniffLen)
	k, _ := tmp.ReadAt(head, 0)
	mediaType := ocr.Sniff(head[:k])
	if mediaType == "" {
		return Document{}, false, fmt.Errorf("%w: the bytes are not a PDF, PNG, JPEG or TIFF", ErrUnsupportedMedia)
	}
	id := hex.EncodeToString(h.Sum(nil))
	if d, err := s.Get(ctx, id); err == nil {
		return d, false, nil
	}

	d := Document{ID: id, SHA256: id, Size: n, MediaType: mediaType, Filename: cleanFilename(filename), CreatedAt: time.Now().UTC()}
	if s.Engine != nil {
		// A document whose pages cannot be counted is still stored: the
		// job that reads it fails with a precise, non-retryable error.
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if info, err := s.Engine.Inspect(ictx, tmp.Name(), mediaType); err == nil {
			d.Pages = info.Pages
		}
		cancel()
	}
	if s.MaxPages > 0 && d.Pages > s.MaxPages {
		return Document{}, false, &TooManyPagesError{Pages: d.Pages, Max: s.MaxPages}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Document{}, false, err
	}
	if err := s.write(ctx, s.contentKey(id), mediaType, tmp); err != nil {
		return Document{}, false, err
	}
	meta, err := json.Marshal(d)
	if err != nil {
		return Document{}, false, err
	}
	// The metadata is written last: a document is listed only once its
	// content is complete.
	if err := s.write(ctx, s.metaKey(id), "application/json", bytes.NewReader(meta)); err != nil {
		return Document{}, false, err
	}
	return d, true, nil
}

// TooManyPagesError is the error of an upload with more pages than
// Store.MaxPages; it matches ErrTooManyPages.
type TooManyPagesError struct {
	Pages, Max int
}

func (e *TooManyPagesError) Error() string {
	return fmt.Sprintf("the document has %d pages; this service reads at most %d (DOCKET_MAX_PAGES)", e.Pages, e.Max)
}

// Is makes errors.Is(err, ErrTooManyPages) hold.
func (e *TooManyPagesError) Is(target error) bool { return target == ErrTooManyPages }

func (s *Store) write(ctx context.Context, key, contentType string, r io.Reader) error {
	if s.Ring != nil {
		// Objects are at most an upload's size limit: sealed in memory.
		plain, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		sealed, err := s.Ring.Seal(plain)
		if err != nil {
			return fmt.Errorf("encrypt %s: %w", key, err)
		}
		r, contentType = bytes.NewReader(sealed), "application/octet-stream"
	}
	w, err := s.Bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrUnavailable, key, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Close()
		return fmt.Errorf("%w: write %s: %w", ErrUnavailable, key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrUnavailable, key, err)
	}
	return nil
}

// cleanFilename keeps a display name only: no path, no control or format
// characters, bounded. Format characters (Unicode category Cf) are invisible
// yet change how a name reads: U+202E RIGHT-TO-LEFT OVERRIDE shows
// "invoice\u202efdp.exe" as "invoiceexe.pdf", and zero-width characters let
// two names that look the same differ.
func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// Get returns a document's description.
func (s *Store) Get(ctx context.Context, id string) (Document, error) {
	if !ValidID(id) {
		return Document{}, ErrNotFound
	}
	b, err := s.read(ctx, s.metaKey(id))
	if errors.Is(err, ErrNotFound) {
		return Document{}, ErrNotFound
	}
	if err != nil {
		return Document{}, fmt.Errorf("read document %s: %w", id, err)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return Document{}, fmt.Errorf("decode document %s: %w", id, err)
	}
	return d, nil
}

// Open returns a reader of a document's bytes (decrypted).
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if s.Ring != nil {
		b, err := s.read(ctx, s.contentKey(id))
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	r, err := s.Bucket.NewReader(ctx, s.contentKey(id), nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open document %s: %w", ErrUnavailable, id, err)
	}
	return r, nil
}

// read reads a whole object, decrypting it when it was sealed: objects
// stored before encryption was turned on stay readable.
func (s *Store) read(ctx context.Context, key string) ([]byte, error) {
	b, err := s.Bucket.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrUnavailable, key, err)
	}
	if !crypt.IsSealed(b) {
		return b, nil
	}
	if s.Ring == nil {
		return nil, fmt.Errorf("read %s: it is encrypted and this store has no key ring (DOCKET_ENCRYPTION_KEYS_FILE)", key)
	}
	plain, _, err := s.Ring.Open(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return plain, nil
}

// CopyToFile writes a document's bytes into a new file under dir, for the
// command-line tools that need a path.
func (s *Store) CopyToFile(ctx context.Context, id, dir string) (string, error) {
	r, err := s.Open(ctx, id)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := os.CreateTemp(dir, "docket-doc-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("copy document %s: %w", id, err)
	}
	return f.Name(), f.Close()
}

// List returns up to pageSize documents whose file name contains search
// (case-insensitive), in id order, and the token of the next page.
// A pageToken that is not one List returned for the same search is
// ErrBadPageToken: the bucket would take any bytes as a key to start after,
// so a garbled token would silently give a wrong page.
func (s *Store) List(ctx context.Context, search string, pageSize int, pageToken string) ([]Document, string, error) {
	search = strings.ToLower(search)
	scope := "documents\x00" + s.prefix + "\x00" + search
	var out []Document
	token := blob.FirstPageToken
	if pageToken != "" {
		t, ok := pagetoken.Open(scope, pageToken)
		if !ok {
			return nil, "", ErrBadPageToken
		}
		token = t
	}
	// A filtered page may need several listing pages; bound the work.
	for rounds := 0; rounds < 50 && len(out) < pageSize; rounds++ {
		objs, next, err := s.Bucket.ListPage(ctx, token, pageSize, &blob.ListOptions{Prefix: s.prefix + "documents/", Delimiter: "/"})
		if err != nil {
			return nil, "", fmt.Errorf("%w: list documents: %w", ErrUnavailable, err)
		}
		for _, o := range objs {
			id := strings.TrimSuffix(strings.TrimPrefix(o.Key, s.prefix+"documents/"), "/")
			d, err := s.Get(ctx, id)
			if err != nil {
				continue // being written, or not a document
			}
			if search == "" || strings.Contains(strings.ToLower(d.Filename), search) {
				out = append(out, d)
			}
		}
		if len(next) == 0 {
			return out, "", nil
		}
		token = next
	}
	return out, pagetoken.Seal(scope, token), nil
}

// PutText stores a job's text output under key.
func (s *Store) PutText(ctx context.Context, key, text string) error {
	return s.write(ctx, s.prefix+key, "text/plain; charset=utf-8", strings.NewReader(text))
}

// GetText reads a text output; ErrNotFound when absent.
func (s *Store) GetText(ctx context.Context, key string) (string, error) {
	b, err := s.read(ctx, s.prefix+key)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// LinkJob records that job jobID stores outputs derived from document id
// (its page texts, entities): Delete deletes them with the document.
func (s *Store) LinkJob(ctx context.Context, id, jobID string) error {
	return s.write(ctx, s.jobLinkKey(id, jobID), "text/plain", strings.NewReader(""))
}

// Delete deletes a document, the outputs of the jobs linked to it and the
// links. ErrNotFound when there is no such document. The metadata goes
// last: until then the document is found, so a delete that fails half-way
// can be repeated, and Put never takes a half-deleted document for a
// stored one.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	links := s.prefix + "documents/" + id + "/jobs/"
	it := s.Bucket.List(&blob.ListOptions{Prefix: links})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: list outputs of document %s: %w", ErrUnavailable, id, err)
		}
		jobID := strings.TrimPrefix(o.Key, links)
		if err := s.removeAll(ctx, s.prefix+"jobs/"+jobID+"/"); err != nil {
			return err
		}
		if err := s.remove(ctx, o.Key); err != nil {
			return err
		}
	}
	// The OCR cache holds the document's text: it goes with it.
	if err := s.removeAll(ctx, s.prefix+cachePrefix(id)); err != nil {
		return err
	}
	if err := s.remove(ctx, s.contentKey(id)); err != nil {
		return err
	}
	return s.remove(ctx, s.metaKey(id))
}

func (s *Store) removeAll(ctx context.Context, prefix string) error {
	it := s.Bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: list %s: %w", ErrUnavailable, prefix, err)
		}
		if err := s.remove(ctx, o.Key); err != nil {
			return err
		}
	}
}

// remove deletes one object; one already gone is not an error, so that a
// delete interrupted half-way can be repeated.
func (s *Store) remove(ctx context.Context, key string) error {
	err := s.Bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("%w: delete %s: %w", ErrUnavailable, key, err)
	}
	return nil
}

// PageKey is where a document job's text of one page is stored.
func PageKey(jobID string, page int) string {
	return fmt.Sprintf("jobs/%s/pages/%05d.txt", jobID, page)
}

// CacheKey is where the OCR cache keeps the text of page of document id as
// read in lang by the engine whose version is engine (see ocr.Engine.Version):
// a document's id is the hash of its bytes, so any job of the same tenant
// on the same bytes, language and engine finds it. The engine's version is
// hashed into the key, so a new tesseract or traineddata misses the cache
// rather than serving text it would not produce.
func CacheKey(id, lang, engine string, page int) string {
	v := sha256.Sum256([]byte(engine))
	return fmt.Sprintf("%s%s/%s/%05d.txt", cachePrefix(id), lang, hex.EncodeToString(v[:8]), page)
}

func cachePrefix(id string) string { return "ocrcache/" + id + "/" }

// Close closes the bucket.
func (s *Store) Close() error { return s.Bucket.Close() }
