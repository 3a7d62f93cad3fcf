package documents_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/documents"
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
