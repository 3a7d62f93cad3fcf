package ocr

import (
	"errors"
	"fmt"

	"github.com/docket-dev/docket/job"
)

// Kinds of DocumentError: the failures a document job reports when its
// document cannot be read (job.Failures holds every failure's wire value).
const (
	// KindUnreadable: the file is corrupt, truncated or not what its media
	// type says.
	KindUnreadable = job.FailUnreadableDocument
	// KindEncrypted: a PDF that cannot be opened without a user password.
	KindEncrypted = job.FailEncryptedDocument
	// KindEmpty: a document with no pages (or no bytes).
	KindEmpty = job.FailEmptyDocument
	// KindTooLarge: a page whose pixel count exceeds Engine.MaxPixels.
	KindTooLarge = job.FailImageTooLarge
	// KindUnsupportedLanguage: a language that is malformed or has no
	// tesseract data installed.
	KindUnsupportedLanguage = job.FailUnsupportedLanguage
)

// DocumentError says that the document (or the language asked for) cannot
// be processed however often it is retried; any other error from this
// package is a tool or system failure, or a cancellation, and may succeed
// on another attempt.
type DocumentError struct {
	// Kind is one of the Kind constants.
	Kind job.Failure
	// Msg says what is wrong in words fit for the job's submitter; it never
	// holds the document's local path.
	Msg string
}

// Error returns the kind and the message.
func (e *DocumentError) Error() string {
	return string(e.Kind) + ": " + e.Msg
}

// ErrPageRange is returned (wrapped) by PageText for a page number outside
// 1..Info.Pages; it is the caller's mistake, not the document's.
var ErrPageRange = errors.New("page number out of range")

// docErr builds a *DocumentError with a formatted message.
func docErr(kind job.Failure, format string, args ...any) error {
	return &DocumentError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Kinds of PageError (in job.Failures): a page failure is reported on its
// page of a document job's result, and fails the job only with "strict".
const (
	// KindPageTimeout: reading the page took longer than
	// Engine.PageTimeout; its tools were killed.
	KindPageTimeout = job.FailPageTimeout
	// KindPageUnreadable: the page's content (an image stream, say) is
	// damaged, while the document as a whole opens and its other pages
	// may read fine.
	KindPageUnreadable = job.FailPageUnreadable
)

// PageError says that one page of a document cannot be read, while the
// document itself is sound (a document that cannot be read at all is a
// *DocumentError instead). Retrying the same page with the same Engine
// gives the same result, so a caller should record the page as failed,
// not retry it, and go on with the other pages.
//
// A PageError never wraps a context error: a page that ran out of its own
// PageTimeout is a PageError, while the caller's ctx being canceled or
// running out is returned as ctx.Err(), wrapped.
type PageError struct {
	// Page is the page's 1-based number.
	Page int
	// Kind is KindPageTimeout or KindPageUnreadable.
	Kind job.Failure
	// Msg says what is wrong in words fit for the job's submitter; it never
	// holds the document's local path.
	Msg string
}

// Error returns the kind, the page and the message.
func (e *PageError) Error() string {
	return fmt.Sprintf("%s: page %d: %s", e.Kind, e.Page, e.Msg)
}
