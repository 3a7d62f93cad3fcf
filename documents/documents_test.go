package documents_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/testdocs"
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
