package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The workers' step metrics. They are package variables because the
// engines that record them (activities, llm) are built in many places;
// each process's registry (NewRegistry) serves them. A vector with no
// series yet exposes nothing, so the API, which runs no steps, shows none.
var (
	ocrPages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "ocr", Name: "pages_total",
		Help: "Document pages read, by method: text-layer (pdftotext) or ocr (tesseract).",
	}, []string{"method"})
	ocrSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "ocr", Name: "page_duration_seconds",
		Help:    "Time to read one page, by method (a text-layer page's share of its document's one pdftotext run is not in it).",
		Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64},
	}, []string{"method"})
	llmRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "llm", Name: "requests_total",
		Help: "Chat Completions requests, by configured model and outcome: ok, rate_limited, server_error, client_error, timeout, network_error, bad_answer, canceled.",
	}, []string{"model", "outcome"})
	llmSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "llm", Name: "request_duration_seconds",
		Help:    "Time of one Chat Completions request, by configured model.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128},
	}, []string{"model"})
	llmTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "llm", Name: "tokens_total",
		Help: "Tokens the endpoint reported using, by configured model and kind (prompt or completion).",
	}, []string{"model", "kind"})
	fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "fetch", Name: "requests_total",
		Help: "Page fetches of wordcount steps, by outcome: ok or the failure type (http_client_error, http_server_error, fetch_refused, fetch_failed, unsupported_content, response_too_large, timeout, network_error).",
	}, []string{"outcome"})
)

func stepCollectors() []prometheus.Collector {
	return []prometheus.Collector{ocrPages, ocrSeconds, llmRequests, llmSeconds, llmTokens, fetches}
}

// OCRMethodCached is the method label of a page whose text came from the
// OCR page cache (no tesseract run).
const OCRMethodCached = "cached"

// OCRPage records one page read by method (ocr.MethodTextLayer,
// ocr.MethodOCR, ocr's blank-page method or OCRMethodCached) in d.
func OCRPage(method string, d time.Duration) {
	ocrPages.WithLabelValues(method).Inc()
	ocrSeconds.WithLabelValues(method).Observe(d.Seconds())
}

// LLMRequest records one Chat Completions request to model (the
// configured name, not what the endpoint answers with) that ended with
// outcome after d, and the tokens it reported (0 when it did not).
func LLMRequest(model, outcome string, d time.Duration, promptTokens, completionTokens int64) {
	llmRequests.WithLabelValues(model, outcome).Inc()
	llmSeconds.WithLabelValues(model).Observe(d.Seconds())
	if promptTokens > 0 {
		llmTokens.WithLabelValues(model, "prompt").Add(float64(promptTokens))
	}
	if completionTokens > 0 {
		llmTokens.WithLabelValues(model, "completion").Add(float64(completionTokens))
	}
}

// Fetch records the outcome of one page fetch.
func Fetch(outcome string) {
	fetches.WithLabelValues(outcome).Inc()
}
