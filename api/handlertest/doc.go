// Package handlertest holds the Jobs API's handler tests that need no
// Temporal: media types, body sizes and deadlines, strict JSON, input
// validation, query parameters, invalid ids, methods and Allow, HEAD,
// unclean paths, page tokens and the shape of every problem. They serve
// api.Server with a recording api.Jobs and a real documents.Store on a
// temporary folder, run in parallel and take seconds (make test-api-fast).
//
// They live in a package of their own, rather than in api's tests, because
// api's TestMain starts a Temporal dev server for the whole binary; the
// real-stack suite there keeps every test that needs a job engine.
package handlertest
