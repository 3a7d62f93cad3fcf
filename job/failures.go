package job

// Failure is the wire value of Error.Type: why a job or one of its steps
// failed. Every value Docket produces is a constant below and a row of
// Failures; the OpenAPI document lists exactly these (a test keeps them
// equal), so clients can switch on them.
type Failure string

// The failures. Those marked permanent are non-retryable: the step fails
// at once, since retrying cannot make it succeed.
const (
	// FailInvalidInput (permanent): the input is invalid; only the temporal
	// CLI or the starter can get it past the API's checks.
	FailInvalidInput Failure = "invalid_input"
	// FailFetchRefused (permanent): the URL's address is not globally
	// reachable, or is one of the worker's own.
	FailFetchRefused Failure = "fetch_refused"
	// FailFetchFailed (permanent): the URL cannot be fetched and retrying
	// cannot help: its host name does not exist, it redirects to a
	// non-HTTP(S) URL or more than five times.
	FailFetchFailed Failure = "fetch_failed"
	// FailHTTPClientError (permanent): the page answered 4xx (but 408 and
	// 429), or a redirect was not followed.
	FailHTTPClientError Failure = "http_client_error"
	// FailHTTPServerError: the page answered 408, 429 or 5xx through every
	// retry.
	FailHTTPServerError Failure = "http_server_error"
	// FailUnsupportedContent (permanent): the page is not text.
	FailUnsupportedContent Failure = "unsupported_content"
	// FailResponseTooLarge (permanent): the page is larger than the limit.
	FailResponseTooLarge Failure = "response_too_large"
	// FailDocumentNotFound (permanent): the document is gone from the blob store.
	FailDocumentNotFound Failure = "document_not_found"
	// FailUnreadableDocument (permanent): the file is corrupt, truncated or
	// not what its media type says.
	FailUnreadableDocument Failure = "unreadable_document"
	// FailEncryptedDocument (permanent): a PDF that needs a password.
	FailEncryptedDocument Failure = "encrypted_document"
	// FailEmptyDocument (permanent): a document with no pages.
	FailEmptyDocument Failure = "empty_document"
	// FailImageTooLarge (permanent): a page has more pixels than the OCR
	// engine accepts.
	FailImageTooLarge Failure = "image_too_large"
	// FailUnsupportedLanguage (permanent): no OCR data is installed for the
	// language, or it is malformed.
	FailUnsupportedLanguage Failure = "unsupported_language"
	// FailTooManyPages (permanent): the document has more pages than the
	// workers' DOCKET_MAX_PAGES.
	FailTooManyPages Failure = "too_many_pages"
	// FailPageUnreadable (permanent): a page of the document could not be
	// read (a corrupt image inside an otherwise good PDF); a job fails so
	// only with "strict": true, otherwise the page carries the error.
	FailPageUnreadable Failure = "page_unreadable"
	// FailPageTimeout (permanent): one page took longer than the workers'
	// DOCKET_OCR_PAGE_TIMEOUT; as FailPageUnreadable, a job fails so only
	// with "strict": true.
	FailPageTimeout Failure = "page_timeout"
	// FailLLMRejected (permanent): the LLM endpoint refused the request for good.
	FailLLMRejected Failure = "llm_request_rejected"
	// FailLLMUnavailable: the LLM endpoint kept failing or rate-limiting
	// through every retry.
	FailLLMUnavailable Failure = "llm_unavailable"
	// FailLLMNotConfigured (permanent): the job needs an LLM and the workers
	// have none (DOCKET_LLM_BASE_URL is not set).
	FailLLMNotConfigured Failure = "llm_not_configured"
	// FailInvalidLLMOutput (permanent): the LLM's answer did not conform to
	// the job's schema, even when asked again with the validation errors.
	FailInvalidLLMOutput Failure = "invalid_llm_output"
	// FailTimeout: a step or the whole job ran out of time.
	FailTimeout Failure = "timeout"
	// FailCanceled: a step was canceled (a step's last_error).
	FailCanceled Failure = "canceled"
	// FailTerminated: the job's workflow was terminated by an operator.
	FailTerminated Failure = "terminated"
	// FailUnknown: a failure nobody classified.
	FailUnknown Failure = "error"
)

// Failures lists every Failure, in the order the documentation gives them.
var Failures = []Failure{
	FailInvalidInput, FailFetchRefused, FailFetchFailed, FailHTTPClientError, FailHTTPServerError,
	FailUnsupportedContent, FailResponseTooLarge, FailDocumentNotFound, FailUnreadableDocument,
	FailEncryptedDocument, FailEmptyDocument, FailImageTooLarge, FailUnsupportedLanguage,
	FailTooManyPages, FailPageUnreadable, FailPageTimeout, FailLLMRejected, FailLLMUnavailable, FailLLMNotConfigured, FailInvalidLLMOutput, FailTimeout, FailCanceled, FailTerminated, FailUnknown,
}

// permanent are the failures that retrying cannot cure (those marked
// permanent above).
var permanent = map[Failure]bool{
	FailInvalidInput: true, FailFetchRefused: true, FailFetchFailed: true, FailHTTPClientError: true,
	FailUnsupportedContent: true, FailResponseTooLarge: true, FailDocumentNotFound: true,
	FailUnreadableDocument: true, FailEncryptedDocument: true, FailEmptyDocument: true,
	FailImageTooLarge: true, FailUnsupportedLanguage: true, FailTooManyPages: true,
	FailPageUnreadable: true, FailPageTimeout: true, FailLLMRejected: true,
	FailLLMNotConfigured: true, FailInvalidLLMOutput: true,
}

// Permanent reports whether retrying cannot cure f: a step failing so is
// not retried, and a job failing so reports retryable false, whichever
// way the activity flagged its error.
func (f Failure) Permanent() bool { return permanent[f] }

// NonRetryable lists the permanent failures as a retry policy's
// NonRetryableErrorTypes.
func NonRetryable() []string {
	var types []string
	for _, f := range Failures {
		if f.Permanent() {
			types = append(types, string(f))
		}
	}
	return types
}
