// Package llm talks to a language model behind any OpenAI-compatible Chat
// Completions endpoint (OpenAI, Ollama, vLLM, llama.cpp's server) to
// summarise documents and extract names from them, through the official
// github.com/openai/openai-go client.
//
// The client never retries: a Docket step is a Temporal activity whose retry
// policy decides whether and when to try again, guided by APIError. Retries
// inside the library would multiply the policy's attempts and hide them from
// the job's history.
package llm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docket-dev/docket/entities"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// Defaults for the zero values of Config. There is deliberately no default
// summary length: the caller (the summarize activity, with the job's
// default) always says how long a summary may be.
const (
	// DefaultTimeout bounds one request; local models on a CPU can take
	// a minute for a long summary.
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxInputChars is about 6000 tokens of English, which leaves
	// room for the prompt and the answer in an 8k context window.
	DefaultMaxInputChars = 24000
)

// Config says which endpoint and model to use.
type Config struct {
	// BaseURL is the API root that /chat/completions is appended to, e.g.
	// https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama).
	// "" means no model is configured: Summarize falls back to Extractive.
	BaseURL string
	// Model is the model name the endpoint knows, e.g. gpt-4o-mini or
	// llama3.1:8b. Required with BaseURL.
	Model string
	// APIKey is sent as a Bearer token; local servers usually need none.
	APIKey string
	// Timeout bounds one request, including reading the answer; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxInputChars bounds the characters of document text sent in one
	// request (the rest is cut off, see Summary.Truncated), so that a long
	// document does not overflow the model's context window or the
	// budget; 0 means DefaultMaxInputChars.
	MaxInputChars int
}

// Client calls the configured model. It is safe for concurrent use.
type Client struct {
	cfg Config
	// chat is nil when no model is configured.
	chat *openai.ChatCompletionService
	// openAI is set for api.openai.com, whose newer models reject
	// max_tokens and a temperature other than 1.
	openAI bool
}

// New returns a client for cfg. With cfg.BaseURL "" it returns an
// unconfigured client (see Configured). httpClient may be nil for a default
// one; its Timeout, if any, applies on top of cfg.Timeout.
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	cfg.BaseURL = strings.TrimSpace(cfg.BaseURL)
	if cfg.BaseURL == "" {
		return &Client{cfg: cfg}, nil
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: base URL %q: want http(s)://host[/path]", cfg.BaseURL)
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("llm: a model is required with a base URL")
	}
	if cfg.Timeout < 0 || cfg.MaxInputChars < 0 {
		return nil, errors.New("llm: timeout and max input chars must not be negative")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.MaxInputChars = cmp.Or(cfg.MaxInputChars, DefaultMaxInputChars)
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	// The service is built from explicit options only; openai.NewClient
	// would also read OPENAI_API_KEY, OPENAI_BASE_URL and friends from the
	// environment, and could send an OpenAI key to a local server.
	chat := openai.NewChatCompletionService(
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithHTTPClient(httpClient),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(cfg.Timeout),
	)
	return &Client{cfg: cfg, chat: &chat, openAI: strings.EqualFold(u.Hostname(), "api.openai.com")}, nil
}

// Configured reports whether the client has a model to call.
func (c *Client) Configured() bool { return c != nil && c.chat != nil }

// Usage counts the tokens one request used, as the endpoint reported them.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// Summary is a document's summary and how it was made.
type Summary struct {
	Text string `json:"text"`
	// Method is "llm" or "extractive".
	Method string `json:"method"`
	// Model is the model that wrote an "llm" summary, as the endpoint
	// names it.
	Model string `json:"model,omitempty"`
	// Usage is set when the endpoint reported token usage.
	Usage *Usage `json:"usage,omitempty"`
	// Truncated says the document was longer than Config.MaxInputChars and
	// only its beginning was summarised.
	Truncated bool `json:"truncated,omitempty"`
}

// Summary methods.
const (
	// MethodLLM is a summary the model wrote.
	MethodLLM = "llm"
	// MethodExtractive is a summary of sentences picked by Extractive.
	MethodExtractive = "extractive"
)

// ErrNotConfigured is returned by calls that need a model when none is
// configured.
var ErrNotConfigured = errors.New("llm: no model configured")

// Summarize summarises text in at most maxWords words, which must be at
// least 1. Without a configured model, or for a text with nothing to
// summarise, it returns Extractive's summary and no error. A model's answer
// longer than maxWords is cut to maxWords. A text longer than
// Config.MaxInputChars is cut before it is sent, and the summary says so in
// Truncated.
func (c *Client) Summarize(ctx context.Context, text string, maxWords int) (Summary, error) {
	if maxWords < 1 {
		// A caller's bug, not the endpoint's: no request is made.
		return Summary{}, fmt.Errorf("llm: summary length %d: want at least 1 word", maxWords)
	}
	if !c.Configured() || strings.TrimSpace(text) == "" {
		return Extractive(text, maxWords), nil
	}
	body, truncated := truncate(text, c.cfg.MaxInputChars)
	note := ""
	if truncated {
		note = fmt.Sprintf("\n(The document was cut off after %d characters; summarise the part shown.)", c.cfg.MaxInputChars)
	}
	params := openai.ChatCompletionNewParams{
		Model: c.cfg.Model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(fmt.Sprintf("You summarise business documents such as invoices, letters and reports. "+
				"Write a plain-text summary of at most %d words in the language of the document. "+
				"Keep names, amounts, dates and reference numbers exactly as written. "+
				"Answer with the summary only, without a heading.", maxWords)),
			openai.UserMessage("Document:\n<<<\n" + body + "\n>>>" + note),
		},
	}
	// Words are 1.3 to 2 tokens in most languages; the margin lets the
	// model finish its last sentence, and the answer is cut to maxWords.
	c.limit(&params, int64(maxWords)*2+64)
	resp, err := c.complete(ctx, params)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{
		Text:      limitWords(resp.text, maxWords),
		Method:    MethodLLM,
		Model:     cmp.Or(resp.model, c.cfg.Model),
		Usage:     resp.usage,
		Truncated: truncated,
	}
	return s, nil
}

// Entities asks the model, in JSON mode, for the people, organisations and
// places in one page's text, and returns each occurrence in the text of each
// name it gave, with rune offsets and Source "llm". Names the model gave that
// do not occur in the text (it rephrased or invented them) are dropped. Only
// the first Config.MaxInputChars characters of the page are sent.
func (c *Client) Entities(ctx context.Context, page int, text string) ([]entities.Entity, error) {
	if !c.Configured() {
		return nil, ErrNotConfigured
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	body, _ := truncate(text, c.cfg.MaxInputChars)
	params := openai.ChatCompletionNewParams{
		Model: c.cfg.Model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(`You extract named entities from document text. ` +
				`Answer with a JSON object of the form {"entities":[{"label":"PERSON","text":"..."}]}. ` +
				`label is PERSON (a person's name, without titles such as Mr. or Dr.), ` +
				`ORG (a company, bank, authority or other organisation) or PLACE (a city, region or country; not a street address). ` +
				`text is the name copied exactly as it appears in the document. List each name once. ` +
				`Do not include dates, amounts, e-mail addresses, job titles or products. ` +
				`If there are none, answer {"entities":[]}.`),
			openai.UserMessage(body),
		},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONObject: &shared.ResponseFormatJSONObjectParam{},
		},
	}
	c.limit(&params, 1024)
	resp, err := c.complete(ctx, params)
	if err != nil {
		return nil, err
	}
	names, err := parseEntities(resp.text)
	if err != nil {
		// A model that answered with broken JSON once may well answer
		// with good JSON the next time (sampling, a cut-off answer).
		return nil, &APIError{Status: resp.status, Retryable: true, Msg: "malformed JSON entities in the answer: " + err.Error(), cause: err}
	}
	var found []entities.Entity
	for _, n := range names {
		found = append(found, entities.Locate(page, text, n.Label, n.Text, entities.SourceLLM)...)
	}
	return entities.Merge(found), nil
}

// llmEntity is one entity as the model reports it.
type llmEntity struct {
	Label string `json:"label"`
	Text  string `json:"text"`
}

// parseEntities reads the model's JSON answer. It accepts what models
// commonly produce besides the requested object (a bare array, a Markdown
// code fence) and maps label synonyms to entities' labels; entities with
// other labels are left out.
func parseEntities(answer string) ([]llmEntity, error) {
	answer = strings.TrimSpace(answer)
	if rest, ok := strings.CutPrefix(answer, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		answer = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "```"))
	}
	var list []llmEntity
	if strings.HasPrefix(answer, "[") {
		if err := json.Unmarshal([]byte(answer), &list); err != nil {
			return nil, err
		}
	} else {
		var obj struct {
			Entities []llmEntity `json:"entities"`
		}
		if err := json.Unmarshal([]byte(answer), &obj); err != nil {
			return nil, err
		}
		list = obj.Entities
	}
	out := list[:0]
	seen := map[llmEntity]bool{}
	for _, e := range list {
		e.Label = normalizeLabel(e.Label)
		e.Text = strings.TrimSpace(e.Text)
		if e.Label == "" || e.Text == "" || seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out, nil
}

func normalizeLabel(l string) string {
	switch strings.ToUpper(strings.TrimSpace(l)) {
	case "PERSON", "PER", "PEOPLE", "NAME":
		return entities.LabelPerson
	case "ORG", "ORGANIZATION", "ORGANISATION", "COMPANY":
		return entities.LabelOrg
	case "PLACE", "GPE", "LOC", "LOCATION", "CITY", "COUNTRY", "REGION":
		return entities.LabelPlace
	}
	return ""
}

// limit sets the answer's token limit and sampling in the form the endpoint
// accepts: OpenAI's reasoning models reject max_tokens and temperature,
// while older servers (llama.cpp, older vLLM and Ollama) only know
// max_tokens.
func (c *Client) limit(p *openai.ChatCompletionNewParams, tokens int64) {
	if c.openAI {
		p.MaxCompletionTokens = openai.Int(tokens)
		return
	}
	p.MaxTokens = openai.Int(tokens)
	p.Temperature = openai.Float(0)
}

// completion is the part of an answer Docket uses.
type completion struct {
	text   string
	model  string
	usage  *Usage
	status int
}

// complete makes exactly one request and returns the first choice's text,
// or an error: an *APIError, or the context's error if ctx ended.
func (c *Client) complete(ctx context.Context, p openai.ChatCompletionNewParams) (out completion, err error) {
	defer c.observe(time.Now(), &out, &err)
	var raw *http.Response
	resp, err := c.chat.New(ctx, p, option.WithResponseInto(&raw))
	if err != nil {
		return completion{}, classify(ctx, err, raw, c.cfg.Timeout)
	}
	status := http.StatusOK
	if raw != nil {
		status = raw.StatusCode
	}
	if resp == nil || len(resp.Choices) == 0 {
		return completion{}, &APIError{Status: status, Retryable: true, Msg: "the answer has no choices"}
	}
	ch := resp.Choices[0]
	text := strings.TrimSpace(ch.Message.Content)
	if text == "" {
		switch {
		case ch.Message.Refusal != "":
			return completion{}, &APIError{Status: status, Msg: "the model refused: " + ch.Message.Refusal}
		case ch.FinishReason == "length":
			// The same request would run out of tokens again.
			return completion{}, &APIError{Status: status, Msg: "the answer was cut off by the token limit before any text"}
		}
		return completion{}, &APIError{Status: status, Retryable: true, Msg: "the answer is empty (finish_reason " + ch.FinishReason + ")"}
	}
	out = completion{text: text, model: resp.Model, status: status}
	if resp.JSON.Usage.Valid() {
		out.usage = &Usage{
			PromptTokens:     resp.Usage.PromptTokens,
			CompletionTokens: resp.Usage.CompletionTokens,
			TotalTokens:      resp.Usage.TotalTokens,
		}
	}
	return out, nil
}

// truncate cuts text to at most max runes, at a space if one is near the
// end, and reports whether it cut.
func truncate(text string, max int) (string, bool) {
	if max <= 0 || utf8.RuneCountInString(text) <= max {
		return text, false
	}
	i, n := 0, 0
	for i = range text {
		if n == max {
			break
		}
		n++
	}
	cut := text[:i]
	if sp := strings.LastIndexFunc(cut, unicode.IsSpace); sp > 0 && len(cut)-sp < 200 {
		cut = cut[:sp]
	}
	return cut, true
}

// limitWords cuts s to at most n words, marking a cut with an ellipsis.
func limitWords(s string, n int) string {
	fields := strings.Fields(s)
	if len(fields) <= n {
		return s
	}
	// Keep the text's own line breaks up to the n-th word.
	idx, count := 0, 0
	inWord := false
	for i, r := range s {
		if unicode.IsSpace(r) {
			if inWord {
				count++
				if count == n {
					idx = i
					break
				}
			}
			inWord = false
			continue
		}
		inWord = true
	}
	return strings.TrimRight(s[:idx], " ,;:") + "…"
}
