package ocr

import (
	"errors"
	"fmt"
)

// Kinds of DocumentError. They double as the error types a failed document
// job reports, so they are part of Docket's API and must not change.
const (
	// KindUnreadable: the file is corrupt, truncated or not what its media
	// type says.
	KindUnreadable = "unreadable_document"
	// KindEncrypted: a PDF that cannot be opened without a user password.
	KindEncrypted = "encrypted_document"
	// KindEmpty: a document with no pages (or no bytes).
	KindEmpty = "empty_document"
	// KindTooLarge: a page whose pixel count exceeds Engine.MaxPixels.
	KindTooLarge = "image_too_large"
	// KindUnsupportedLanguage: a language that is malformed or has no
	// tesseract data installed.
	KindUnsupportedLanguage = "unsupported_language"
)

// DocumentError says that the document (or the language asked for) cannot
// be processed however often it is retried; any other error from this
// package is a tool or system failure, or a cancellation, and may succeed
// on another attempt.
type DocumentError struct {
	// Kind is one of the Kind constants.
	Kind string
	// Msg says what is wrong in words fit for the job's submitter; it never
	// holds the document's local path.
	Msg string
}

// Error returns the kind and the message.
func (e *DocumentError) Error() string {
	return e.Kind + ": " + e.Msg
}

// ErrPageRange is returned (wrapped) by PageText for a page number outside
// 1..Info.Pages; it is the caller's mistake, not the document's.
var ErrPageRange = errors.New("page number out of range")

// docErr builds a *DocumentError with a formatted message.
func docErr(kind, format string, args ...any) error {
	return &DocumentError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
