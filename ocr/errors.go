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
