package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
)

// multipartOverhead is room for a multipart envelope around the file.
const multipartOverhead = 64 << 10

// DocumentList is the body of GET /documents.
type DocumentList struct {
	Documents     []documents.Document `json:"documents"`
	NextPageToken string               `json:"next_page_token,omitempty"`
}

// uploadDocument is POST /documents: the raw bytes as the body, or a
// multipart form whose "file" field holds them.
func (s *Server) uploadDocument(w http.ResponseWriter, r *http.Request) {
	limit := s.maxDocumentBytes()
	bodyLimit := limit
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		bodyLimit += multipartOverhead
	}
	body, err := s.openBody(w, r, bodyLimit)
	if err != nil {
		s.documentTooLarge(w, r)
		return
	}
	r.Body = io.NopCloser(body)
	file, filename, err := uploadedFile(r)
	var bodyErr *bodyError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.documentTooLarge(w, r)
		return
	case errors.As(err, &bodyErr):
		s.fail(w, r, err)
		return
	case err != nil:
		writeProblem(w, r, http.StatusBadRequest, "malformed-upload", err.Error(), func(p *Problem) { p.Field = "file" })
		return
	}
	// A multipart part's own read errors (a form cut short) are the
	// client's too.
	store, ok := s.docs(w, r)
	if !ok {
		return
	}
	d, created, err := store.Put(r.Context(), &clientReader{r: file}, filename, limit)
	if errors.As(err, &tooLarge) {
		s.documentTooLarge(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeMade(w, "/documents/"+d.ID, created, http.StatusCreated, d)
}

func (s *Server) documentTooLarge(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusRequestEntityTooLarge, "too-large",
		fmt.Sprintf("the document is larger than %d bytes", s.maxDocumentBytes()), nil)
}

func (s *Server) maxDocumentBytes() int64 {
	if s.MaxDocumentBytes > 0 {
		return s.MaxDocumentBytes
	}
	return documents.DefaultMaxBytes
}

// uploadedFile finds the document in the request and its file name.
func uploadedFile(r *http.Request) (io.Reader, string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		name := r.URL.Query().Get("filename")
		if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && name == "" {
			name = params["filename"]
		}
		return r.Body, name, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", fmt.Errorf("read multipart form: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, "", errors.New(`the multipart form has no "file" field`)
		}
		if err != nil {
			return nil, "", fmt.Errorf("read multipart form: %w", err)
		}
		if part.FormName() == "file" {
			return part, part.FileName(), nil
		}
	}
}

// listDocuments is GET /documents.
func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, ok := s.pageSize(w, r)
	if !ok {
		return
	}
	search := q.Get("search")
	if len(search) > 255 {
		s.badParam(w, r, "search", "must be at most 255 characters")
		return
	}
	store, ok := s.docs(w, r)
	if !ok {
		return
	}
	docs, next, err := store.List(r.Context(), search, size, q.Get("page_token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if docs == nil {
		docs = []documents.Document{}
	}
	writeJSON(w, http.StatusOK, DocumentList{Documents: docs, NextPageToken: next})
}

// getDocument is GET /documents/{id}.
func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) {
	store, ok := s.docs(w, r)
	if !ok {
		return
	}
	d, err := store.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// deleteDocument is DELETE /documents/{id}: the document and the outputs
// of the jobs that read it. Finished jobs keep their history (and the
// small results in it) until Temporal's retention removes it.
func (s *Server) deleteDocument(w http.ResponseWriter, r *http.Request) {
	store, ok := s.docs(w, r)
	if !ok {
		return
	}
	if err := store.Delete(r.Context(), mux.Vars(r)["id"]); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getDocumentContent is GET /documents/{id}/content: the bytes as uploaded.
func (s *Server) getDocumentContent(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	store, ok := s.docs(w, r)
	if !ok {
		return
	}
	d, err := store.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rd, err := store.Open(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", d.MediaType)
	w.Header().Set("Content-Length", strconv.FormatInt(d.Size, 10))
	w.Header().Set("ETag", `"`+d.SHA256+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if d.Filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	}
	if _, err := io.Copy(w, rd); err != nil {
		s.Log.Warn("send document", "id", id, "error", err)
	}
}

// getJobPage is GET /jobs/{id}/pages/{page}: one page's text of a document job.
func (s *Server) getJobPage(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	n, err := strconv.Atoi(vars["page"])
	if err != nil || n < 1 || n > 100000 {
		s.badParam(w, r, "page", "must be a page number from 1")
		return
	}
	id := vars["id"]
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	// The job must be the caller's, and its pages are in its tenant's part.
	owner, err := s.Jobs.Owner(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	text, err := s.Docs.ForTenant(owner).GetText(r.Context(), documents.PageKey(id, n))
	if errors.Is(err, documents.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "page-not-found", fmt.Sprintf("job %s has no text for page %d", strconv.QuoteToASCII(id), n), nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, text)
}

// DocumentCheck returns a job.Client check that refuses jobs that read an
// uploaded document (their inputs are job.DocumentJobs) naming a document
// that was never uploaded, before any workflow starts.
func DocumentCheck(docs *documents.Store) func(context.Context, string, job.Input) error {
	return func(ctx context.Context, jobType string, in job.Input) error {
		d, ok := in.(job.DocumentJob)
		if !ok {
			return nil
		}
		// Only the caller's tenant's documents can be named.
		_, err := docs.ForTenant(job.ScopeOf(ctx).Tenant).Get(ctx, d.DocumentRef())
		if errors.Is(err, documents.ErrNotFound) {
			return &job.InputError{Field: "input.document_id", Message: "no document has this id; upload it with POST /documents first"}
		}
		return err
	}
}
