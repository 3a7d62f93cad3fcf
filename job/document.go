package job

import (
	"fmt"
	"regexp"
)

// TypeDocument is the job type of the document pipeline.
const TypeDocument = "document"

// The steps of a document job, in the order they run.
const (
	StepOCR       = "ocr"
	StepEntities  = "entities"
	StepSummarize = "summarize"
)

// StepOCRPages is the activity that reads a batch of a long document's
// pages. It is part of the ocr step, not a step of its own: a document whose
// pages need tesseract is read by many of them at once, on every OCR worker,
// and the job view shows them as the one ocr step.
const StepOCRPages = "ocr_pages"

// StepOCRAssemble is the activity that builds the ocr step's result once
// every batch of a long document is read; part of the ocr step too.
const StepOCRAssemble = "ocr_assemble"

// DocumentSteps lists the document steps in pipeline order.
var DocumentSteps = []string{StepOCR, StepEntities, StepSummarize}

// Bounds of the document job's input.
const (
	// DefaultLanguage is the tesseract language of a job that names none.
	DefaultLanguage = "eng"
	// DefaultSummaryWords is the summary length of a job that asks for
	// none. It is the only default: package llm requires a length from its
	// caller rather than keeping one of its own, so that the length the API
	// documents is the length a summary gets.
	DefaultSummaryWords = 120
	// MinSummaryWords and MaxSummaryWords bound summarize.max_words.
	MinSummaryWords      = 10
	MaxSummaryWords      = 1000
	documentIDPatternStr = `^[0-9a-f]{64}$`
)

var (
	documentIDPattern = regexp.MustCompile(documentIDPatternStr)
	// languagePattern is tesseract's language list syntax, e.g. "eng+deu".
	languagePattern = regexp.MustCompile(`^[a-z_]{3,16}(\+[a-z_]{3,16}){0,4}$`)
)

// SummarizeOptions tunes the summarize step.
type SummarizeOptions struct {
	MaxWords int `json:"max_words,omitempty"`
}

// DocumentInput is the input of a document job.
type DocumentInput struct {
	DocumentID string            `json:"document_id"`
	Steps      []string          `json:"steps,omitempty"`
	Language   string            `json:"language,omitempty"`
	Summarize  *SummarizeOptions `json:"summarize,omitempty"`
	// Strict fails the job when any page cannot be read; without it such a
	// page carries its error and the job succeeds with the others.
	Strict bool `json:"strict,omitempty"`
}

// Normalize implements Input.
func (in *DocumentInput) Normalize() error {
	if in.DocumentID == "" {
		return &InputError{"input.document_id", "is required"}
	}
	if !documentIDPattern.MatchString(in.DocumentID) {
		return &InputError{"input.document_id", "must be the id of an uploaded document (64 hex digits)"}
	}
	if len(in.Steps) == 0 {
		in.Steps = append([]string(nil), DocumentSteps...)
	}
	// Steps run in pipeline order, each at most once, and the later steps
	// read the text that OCR stores.
	last := -1
	for _, s := range in.Steps {
		i := stepIndex(s)
		switch {
		case i < 0:
			return &InputError{"input.steps", fmt.Sprintf("unknown step %q; steps are %v", s, DocumentSteps)}
		case i <= last:
			return &InputError{"input.steps", fmt.Sprintf("steps must be distinct and in the order %v", DocumentSteps)}
		}
		last = i
	}
	if in.Steps[0] != StepOCR {
		return &InputError{"input.steps", "must start with \"ocr\": the other steps read its text"}
	}
	if in.Language == "" {
		in.Language = DefaultLanguage
	}
	if !languagePattern.MatchString(in.Language) {
		return &InputError{"input.language", "must be tesseract language codes such as \"eng\" or \"eng+deu\""}
	}
	if in.Summarize == nil {
		in.Summarize = &SummarizeOptions{}
	}
	if in.Summarize.MaxWords == 0 {
		in.Summarize.MaxWords = DefaultSummaryWords
	}
	if in.Summarize.MaxWords < MinSummaryWords || in.Summarize.MaxWords > MaxSummaryWords {
		return &InputError{"input.summarize.max_words", fmt.Sprintf("must be between %d and %d", MinSummaryWords, MaxSummaryWords)}
	}
	return nil
}

// Has reports whether the job runs step.
func (in *DocumentInput) Has(step string) bool {
	for _, s := range in.Steps {
		if s == step {
			return true
		}
	}
	return false
}

func stepIndex(s string) int {
	for i, v := range DocumentSteps {
		if v == s {
			return i
		}
	}
	return -1
}

// PageText is one page's extracted text: inline when the document is
// small, otherwise a link to GET /jobs/{id}/pages/{page}.
type PageText struct {
	Page   int    `json:"page"`
	Method string `json:"method"`
	Chars  int    `json:"chars"`
	Text   string `json:"text,omitempty"`
	URL    string `json:"url,omitempty"`
	// Cached says the text was not read again: an earlier job read the
	// same page of the same document, in the same language with the same
	// engine (see OCRResult.CachedPages).
	Cached bool `json:"cached,omitempty"`
	// Error says why the page could not be read; its text is empty. Only
	// a job without "strict" succeeds with such a page.
	Error *Error `json:"error,omitempty"`
}

// PageMethodNone is the method of a page that could not be read (its
// PageText.Error says why).
const PageMethodNone = "none"

// OCRResult is the result of the ocr step.
type OCRResult struct {
	Pages     int        `json:"pages"`
	PageTexts []PageText `json:"page_texts"`
	// CachedPages counts the pages whose text came from the OCR cache.
	CachedPages int `json:"cached_pages,omitempty"`
	// FailedPages counts the pages that carry an error.
	FailedPages int `json:"failed_pages,omitempty"`
	// Plan, when set, says the step is not done: the pages in its batches
	// still need tesseract, and the workflow hands them to ocr_pages
	// activities across the OCR workers (only when OCRInput.FanOut asked
	// for it). Pages and PageTexts then hold what is already done.
	Plan *OCRPlan `json:"plan,omitempty"`
}

// OCRPlan is how a long document's remaining pages are shared out: each
// batch is one ocr_pages activity. Its size is chosen by the worker that
// inspected the document, so that a batch keeps one worker's cores busy for
// a few seconds and the number of batches (and so the history) stays
// bounded however long the document is.
type OCRPlan struct {
	Batches [][]int `json:"batches"`
}

// OCRPagesInput is the input of one ocr_pages activity: a batch of a
// document's pages that need tesseract.
type OCRPagesInput struct {
	JobID      string `json:"job_id"`
	Tenant     string `json:"tenant,omitempty"`
	DocumentID string `json:"document_id"`
	Language   string `json:"language"`
	Strict     bool   `json:"strict,omitempty"`
	Pages      []int  `json:"pages"`
}

// OCRPagesResult is what one ocr_pages activity read: references, not
// texts, which stay in the blob store.
type OCRPagesResult struct {
	PageTexts []PageText `json:"page_texts"`
}

// OCRAssembleInput lists every page a long document's ocr step read, for
// the activity that builds the step's result.
type OCRAssembleInput struct {
	JobID     string     `json:"job_id"`
	Tenant    string     `json:"tenant,omitempty"`
	Pages     int        `json:"pages"`
	PageTexts []PageText `json:"page_texts"`
}

// Entity is a value found in a document's text, with its page and
// character offsets. It mirrors entities.Entity field for field (the
// activity converts one into the other, so the build breaks if they drift)
// rather than aliasing it, so that the job contract does not link the NER
// model.
type Entity struct {
	Label string `json:"label"`
	// Text is the entity as it appears in the page text.
	Text string `json:"text"`
	// Value is the normalized value of a structured entity.
	Value string `json:"value,omitempty"`
	Page  int    `json:"page"`
	// Start and End are rune offsets in the page text, End exclusive.
	Start  int    `json:"start"`
	End    int    `json:"end"`
	Source string `json:"source"`
}

// EntitiesResult is the result of the entities step. Entities are inline
// up to a limit; all of them are always at EntitiesURL.
type EntitiesResult struct {
	Count     int      `json:"count"`
	Entities  []Entity `json:"entities"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Usage is an LLM call's token usage.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// SummaryResult is the result of the summarize step.
type SummaryResult struct {
	// Text is the summary.
	Text string `json:"text"`
	// Method is "llm" or "extractive".
	Method string `json:"method"`
	// Model is the model that wrote an "llm" summary.
	Model string `json:"model,omitempty"`
	// Usage is the LLM call's token usage, when the endpoint reported it.
	Usage *Usage `json:"usage,omitempty"`
	// Truncated says the document was longer than the model's input limit
	// and only its beginning was summarised; without it a client would
	// take a summary of the first pages for one of the whole document.
	// Omitted when false, so results recorded before it existed read the
	// same.
	Truncated bool `json:"truncated,omitempty"`
}

// DocumentResult is the result of a document job.
type DocumentResult struct {
	DocumentID string     `json:"document_id"`
	Pages      int        `json:"pages"`
	PageTexts  []PageText `json:"page_texts"`
	// CachedPages and FailedPages are the ocr step's counts (see OCRResult).
	CachedPages int              `json:"cached_pages,omitempty"`
	FailedPages int              `json:"failed_pages,omitempty"`
	Entities    *EntitiesResult  `json:"entities,omitempty"`
	Summary     *SummaryResult   `json:"summary,omitempty"`
	TimingsMS   map[string]int64 `json:"timings_ms"`
}

// OCRInput is the input of the ocr step.
type OCRInput struct {
	JobID string `json:"job_id"`
	// Tenant is the job's tenant, whose part of the blob store holds the
	// document and receives the page texts; "" for jobs without one.
	Tenant     string `json:"tenant,omitempty"`
	DocumentID string `json:"document_id"`
	Language   string `json:"language"`
	// Strict: a page that cannot be read fails the step (see
	// DocumentInput.Strict).
	Strict bool `json:"strict,omitempty"`
	// FanOut lets the step answer with a Plan for a long document instead
	// of reading every page itself. Workflows from before fan-out do not
	// set it, and their steps read every page as they always did.
	FanOut bool `json:"fan_out,omitempty"`
}

// TextInput names a document job's stored page texts: the input of the
// steps after OCR.
type TextInput struct {
	JobID string `json:"job_id"`
	// Tenant is the job's tenant (see OCRInput.Tenant).
	Tenant string `json:"tenant,omitempty"`
	Pages  int    `json:"pages"`
	// MaxWords bounds a summary; 0 means DefaultSummaryWords.
	MaxWords int `json:"max_words,omitempty"`
}
