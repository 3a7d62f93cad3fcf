package documents_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/tools/testdocs"
)

func store(t *testing.T) *documents.Store {
	t.Helper()
	s, err := documents.Open(context.Background(), "file://"+t.TempDir()+"?create_dir=1&no_tmp_dir=1")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The S3 form of DOCKET_BLOB_URL that docker-compose.yml uses is one the
// driver accepts (unknown parameters would be an error at start-up).
func TestOpenS3URL(t *testing.T) {
	s, err := documents.Open(context.Background(), "s3://docket?endpoint=http://127.0.0.1:9&use_path_style=true&region=us-east-1")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = documents.Open(context.Background(), "s3://docket?secret=oops&bogus=1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "oops", "the URL's query is not echoed: it may hold credentials")
}

func TestPutIsContentAddressed(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	png, err := testdocs.PNG([]string{"hello"}, 32)
	require.NoError(t, err)

	d, created, err := s.Put(ctx, bytes.NewReader(png), "../../etc/Scan\x00 One.png", 1<<20)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "image/png", d.MediaType)
	require.Equal(t, "Scan One.png", d.Filename, "no path, no control characters")

	again, created, err := s.Put(ctx, bytes.NewReader(png), "other.png", 1<<20)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, d, again)

	got, err := s.Get(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, d, got)

	list, next, err := s.List(ctx, "scan", 10, "")
	require.NoError(t, err)
	require.Empty(t, next)
	require.Equal(t, []documents.Document{d}, list)
	list, _, err = s.List(ctx, "nothing-like-it", 10, "")
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestPutRefusals(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	_, _, err := s.Put(ctx, strings.NewReader("plain text"), "a.txt", 1<<20)
	require.ErrorIs(t, err, documents.ErrUnsupportedMedia)
	_, _, err = s.Put(ctx, strings.NewReader(""), "a.pdf", 1<<20)
	require.ErrorIs(t, err, documents.ErrEmpty)
	png, err := testdocs.PNG([]string{"hello"}, 32)
	require.NoError(t, err)
	_, _, err = s.Put(ctx, bytes.NewReader(png), "big.png", 100)
	require.ErrorIs(t, err, documents.ErrTooLarge)
	_, err = s.Get(ctx, strings.Repeat("0", 64))
	require.ErrorIs(t, err, documents.ErrNotFound)
	_, err = s.Get(ctx, "../../etc/passwd")
	require.ErrorIs(t, err, documents.ErrNotFound)
}

// Display names lose control and format characters, which would let a name
// read as something it is not.
func TestFilenamesLoseControlAndFormatCharacters(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	tests := []struct{ name, sent, want string }{
		{"right-to-left override", "invoice\u202efdp.exe", "invoicefdp.exe"},
		{"isolates and embeddings", "a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di.pdf", "abcdefghi.pdf"},
		{"marks", "a\u200eb\u200fc\u061cd.pdf", "abcd.pdf"},
		{"zero width and BOM", "a\u200bb\u200cc\u200dd\ufeffe\u2060f.pdf", "abcdef.pdf"},
		{"soft hyphen", "in\u00advoice.pdf", "invoice.pdf"},
		{"C0 and C1 controls", "a\x00b\tc\x7fd\u0085e\u009bf.pdf", "abcdef.pdf"},
		{"ordinary non-ASCII kept", "Rechnung März — 請求書.pdf", "Rechnung März — 請求書.pdf"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Distinct bytes for each case: the same bytes are one document,
			// which keeps the first upload's name.
			png, err := testdocs.PNG([]string{"filename", strings.Repeat("x", i+1)}, 32)
			require.NoError(t, err)
			d, created, err := s.Put(ctx, bytes.NewReader(png), tt.sent, 1<<20)
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, tt.want, d.Filename)
			got, err := s.Get(ctx, d.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Filename, "stored as cleaned")
		})
	}
}

// Page tokens are sealed: only a token List returned, for the same search,
// continues a listing.
func TestListPageTokens(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	for i := range 3 {
		png, err := testdocs.PNG([]string{"page", strings.Repeat("y", i+1)}, 32)
		require.NoError(t, err)
		_, _, err = s.Put(ctx, bytes.NewReader(png), "paged.png", 1<<20)
		require.NoError(t, err)
	}
	first, next, err := s.List(ctx, "", 1, "")
	require.NoError(t, err)
	require.Len(t, first, 1)
	require.NotEmpty(t, next)
	second, _, err := s.List(ctx, "", 1, next)
	require.NoError(t, err)
	require.Len(t, second, 1)
	require.NotEqual(t, first[0].ID, second[0].ID)

	for name, token := range map[string]string{
		"garbage":      "garbage",
		"NUL":          "\x00",
		"a raw key":    "documents/" + first[0].ID + "/",
		"flipped":      flip(next),
		"other search": "",
		"huge":         strings.Repeat("A", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			search := ""
			if name == "other search" {
				search, token = "paged", next
			}
			_, _, err := s.List(ctx, search, 1, token)
			require.ErrorIs(t, err, documents.ErrBadPageToken)
		})
	}
}

// flip changes one character in the middle of a token (the last one may
// only carry base64 padding bits).
func flip(s string) string {
	b := []byte(s)
	b[len(b)/2] ^= 1
	return string(b)
}

// Each tenant's part of the store is content-addressed on its own: the same
// bytes make a new record for each tenant, and no tenant reads, lists or
// deletes another's documents or job outputs.
func TestTenantsAreApart(t *testing.T) {
	ctx := context.Background()
	root := store(t)
	a, b := root.ForTenant("acme"), root.ForTenant("beta")
	png, err := testdocs.PNG([]string{"shared"}, 32)
	require.NoError(t, err)

	da, created, err := a.Put(ctx, bytes.NewReader(png), "a.png", 1<<20)
	require.NoError(t, err)
	require.True(t, created)
	_, err = b.Get(ctx, da.ID)
	require.ErrorIs(t, err, documents.ErrNotFound, "beta cannot read acme's document")
	_, err = root.Get(ctx, da.ID)
	require.ErrorIs(t, err, documents.ErrNotFound, "nor can the part of no tenant")
	_, err = b.Open(ctx, da.ID)
	require.ErrorIs(t, err, documents.ErrNotFound)
	list, _, err := b.List(ctx, "", 10, "")
	require.NoError(t, err)
	require.Empty(t, list)
	require.ErrorIs(t, b.Delete(ctx, da.ID), documents.ErrNotFound)

	db, created, err := b.Put(ctx, bytes.NewReader(png), "b.png", 1<<20)
	require.NoError(t, err)
	require.True(t, created, "beta's upload of the same bytes is beta's own record")
	require.Equal(t, da.ID, db.ID, "the id is the content's hash, which beta knows already")
	require.Equal(t, "b.png", db.Filename)

	require.NoError(t, a.PutText(ctx, documents.PageKey("job-1", 1), "acme's page"))
	_, err = b.GetText(ctx, documents.PageKey("job-1", 1))
	require.ErrorIs(t, err, documents.ErrNotFound)

	// A page token of one tenant's list is not another's.
	for i := range 3 {
		other, err := testdocs.PNG([]string{"page", strings.Repeat("x", i+1)}, 32)
		require.NoError(t, err)
		_, _, err = a.Put(ctx, bytes.NewReader(other), "more.png", 1<<20)
		require.NoError(t, err)
	}
	_, next, err := a.List(ctx, "", 1, "")
	require.NoError(t, err)
	require.NotEmpty(t, next)
	_, _, err = b.List(ctx, "", 1, next)
	require.ErrorIs(t, err, documents.ErrBadPageToken)
}

// Delete removes the document and the outputs of the jobs linked to it,
// and nothing of another document's jobs; a second delete is not found.
func TestDeleteRemovesDerivedOutputs(t *testing.T) {
	ctx := context.Background()
	s := store(t).ForTenant("acme")
	one, err := testdocs.PNG([]string{"one"}, 32)
	require.NoError(t, err)
	two, err := testdocs.PNG([]string{"two"}, 32)
	require.NoError(t, err)
	d1, _, err := s.Put(ctx, bytes.NewReader(one), "1.png", 1<<20)
	require.NoError(t, err)
	d2, _, err := s.Put(ctx, bytes.NewReader(two), "2.png", 1<<20)
	require.NoError(t, err)
	for _, j := range []struct{ doc, job string }{{d1.ID, "job-a"}, {d1.ID, "job-b"}, {d2.ID, "job-c"}} {
		require.NoError(t, s.LinkJob(ctx, j.doc, j.job))
		require.NoError(t, s.PutText(ctx, documents.PageKey(j.job, 1), "text of "+j.job))
		require.NoError(t, s.PutText(ctx, "jobs/"+j.job+"/entities.json", "[]"))
	}

	require.NoError(t, s.Delete(ctx, d1.ID))
	_, err = s.Get(ctx, d1.ID)
	require.ErrorIs(t, err, documents.ErrNotFound)
	_, err = s.Open(ctx, d1.ID)
	require.ErrorIs(t, err, documents.ErrNotFound)
	for _, j := range []string{"job-a", "job-b"} {
		_, err = s.GetText(ctx, documents.PageKey(j, 1))
		require.ErrorIs(t, err, documents.ErrNotFound, j)
		_, err = s.GetText(ctx, "jobs/"+j+"/entities.json")
		require.ErrorIs(t, err, documents.ErrNotFound, j)
	}
	text, err := s.GetText(ctx, documents.PageKey("job-c", 1))
	require.NoError(t, err)
	require.Equal(t, "text of job-c", text)
	_, err = s.Get(ctx, d2.ID)
	require.NoError(t, err)
	list, _, err := s.List(ctx, "", 10, "")
	require.NoError(t, err)
	require.Equal(t, []documents.Document{d2}, list)
	require.ErrorIs(t, s.Delete(ctx, d1.ID), documents.ErrNotFound)

	// Uploaded again, it is a new document.
	_, created, err := s.Put(ctx, bytes.NewReader(one), "1.png", 1<<20)
	require.NoError(t, err)
	require.True(t, created)
}

func testRing(t *testing.T, id string) *crypt.Ring {
	t.Helper()
	r, err := crypt.RandomRing(id)
	require.NoError(t, err)
	return r
}

// With a key ring every object is stored encrypted (the marker of the
// document's bytes, file name and page text is nowhere in the bucket's
// folder) and read back plain; objects stored before the ring stay
// readable; a store without the ring cannot read sealed ones.
func TestObjectsAreEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(ring *crypt.Ring) *documents.Store {
		s, err := documents.Open(ctx, "file://"+dir+"?create_dir=1&no_tmp_dir=1")
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		s.Ring = ring
		return s.ForTenant("acme")
	}
	const marker = "MARKER-7Q4Z"
	plainStore := open(nil)
	old, err := testdocs.PNG([]string{"before"}, 32)
	require.NoError(t, err)
	dOld, _, err := plainStore.Put(ctx, bytes.NewReader(old), "old.png", 1<<20)
	require.NoError(t, err)

	enc := open(testRing(t, "k1"))
	png, err := testdocs.PNG([]string{"hello"}, 32)
	require.NoError(t, err)
	doc := append(append([]byte{}, png...), []byte(marker)...) // trailing bytes: still a PNG
	d, created, err := enc.Put(ctx, bytes.NewReader(doc), marker+".png", 1<<20)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, enc.PutText(ctx, documents.PageKey("job-1", 1), "page text "+marker))

	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		require.NoError(t, err)
		if e.Type().IsRegular() {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotContains(t, string(b), marker, "%s holds the marker in plain text", path)
		}
		return nil
	})
	require.NoError(t, err)

	got, err := enc.Get(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, marker+".png", got.Filename)
	rd, err := enc.Open(ctx, d.ID)
	require.NoError(t, err)
	b, err := io.ReadAll(rd)
	require.NoError(t, err)
	require.NoError(t, rd.Close())
	require.Equal(t, doc, b)
	text, err := enc.GetText(ctx, documents.PageKey("job-1", 1))
	require.NoError(t, err)
	require.Equal(t, "page text "+marker, text)

	_, err = enc.Get(ctx, dOld.ID)
	require.NoError(t, err, "a document stored in plain text before the ring is still read")
	_, err = plainStore.Get(ctx, d.ID)
	require.ErrorContains(t, err, "encrypted")
	_, err = open(testRing(t, "k2")).Get(ctx, d.ID)
	require.ErrorContains(t, err, `"k1"`, "a ring without the object's key names the key")
}
