package bench

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/internal/crypt"
)

// The harness recognises encryption without linking internal/crypt: the
// variable, the payload encoding and the envelope's magic must be what
// Docket's config and crypt use.
func TestEncryptionMarksAreCrypts(t *testing.T) {
	f, ok := reflect.TypeFor[config.Config]().FieldByName("EncryptionKeysFile")
	require.True(t, ok)
	require.Equal(t, envEncryptionKeys, f.Tag.Get("env"))
	require.Equal(t, crypt.EncodingEncrypted, encodingEncrypted)

	path := filepath.Join(t.TempDir(), "ring.json")
	created, err := crypt.GenerateRingFile(path)
	require.NoError(t, err)
	require.True(t, created)
	ring, err := crypt.LoadRing(context.Background(), path, "")
	require.NoError(t, err)

	// A store of one sealed object, one plain one and a sidecar.
	dir := t.TempDir()
	sealed, err := ring.Seal([]byte(`{"id":"d1"}`))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(sealed), sealedMagic))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "documents", "d1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "documents", "d1", "meta.json"), sealed, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "documents", "d1", "meta.json.attrs"), []byte(sealedMagic), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "documents", "d1", "content"), []byte("II*\x00"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	c, err := countBlobs(dir)
	require.NoError(t, err)
	require.Equal(t, blobCount{sealed: 1, plain: 2}, c, "the .attrs sidecar is not an object")
	_, err = countBlobs(filepath.Join(dir, "missing"))
	require.Error(t, err)

	// The payloads of a history, as the codec and the default converter write them.
	plain, err := converter.GetDefaultDataConverter().ToPayload(trivialInput)
	require.NoError(t, err)
	enc, err := ring.Codec().Encode([]*commonpb.Payload{plain})
	require.NoError(t, err)
	history := func(p *commonpb.Payload) []*historypb.HistoryEvent {
		ps := &commonpb.Payloads{Payloads: []*commonpb.Payload{p}}
		return []*historypb.HistoryEvent{
			{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				Input: ps, Memo: &commonpb.Memo{Fields: map[string]*commonpb.Payload{"docket_input": p, "docket_request": p}}}}},
			{Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{Input: ps}}},
			{Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{Result: ps}}},
			{Attributes: &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{Result: ps}}},
		}
	}
	onEnc := payloadEncodings(history(enc[0]))
	require.Equal(t, map[string]int{encodingEncrypted: 6}, onEnc)
	offEnc := payloadEncodings(history(plain))
	require.Equal(t, map[string]int{"json/plain": 6}, offEnc)
	require.NoError(t, encryptionHolds(onEnc, true))
	require.NoError(t, encryptionHolds(offEnc, false))
	require.ErrorContains(t, encryptionHolds(offEnc, true), "6 of 6 payloads are not binary/encrypted: json/plain 6")
	require.ErrorContains(t, encryptionHolds(onEnc, false), "encryption is off")
	mixed := payloadEncodings(append(history(enc[0])[:1], history(plain)[1:]...))
	require.ErrorContains(t, encryptionHolds(mixed, true), "3 of 6 payloads")
	require.ErrorContains(t, encryptionHolds(map[string]int{}, true), "no payload")
	require.Equal(t, "(none) 1, binary/encrypted 3, json/plain 2", fmtCounts(map[string]int{"json/plain": 2, encodingEncrypted: 3, "": 1}))
}

func TestBlobsHold(t *testing.T) {
	require.NoError(t, blobsHold(blobCount{sealed: 7}, true))
	require.NoError(t, blobsHold(blobCount{plain: 7}, false))
	require.ErrorContains(t, blobsHold(blobCount{sealed: 6, plain: 1}, true), "1 of 7 stored objects are not sealed")
	require.ErrorContains(t, blobsHold(blobCount{sealed: 1, plain: 6}, false), "1 of 7 stored objects are sealed")
	require.ErrorContains(t, blobsHold(blobCount{}, true), "no object")
	require.ErrorContains(t, blobsHold(blobCount{}, false), "no object")
}

func TestEncryptionDocs(t *testing.T) {
	docs, err := encDocs(2, 3)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.NotEqual(t, docs[0].pages[0].marker, docs[1].pages[0].marker, "the documents differ")
	for _, d := range docs {
		markers := map[string]bool{}
		require.Len(t, d.pages, 3)
		require.True(t, strings.HasPrefix(string(d.tiff), "II*\x00"), "a little-endian TIFF")
		for i, p := range d.pages {
			require.Equal(t, i+1, p.n)
			require.Contains(t, p.words, p.marker)
			require.False(t, markers[p.marker], "marker %s twice", p.marker)
			markers[p.marker] = true
		}
	}
}

// Short mode shrinks scenario 10, and both modes run every part of it.
func TestEncryptionSettings(t *testing.T) {
	short, full := settings(true), settings(false)
	for _, s := range []Settings{short, full} {
		require.Positive(t, s.EncRounds)
		require.Positive(t, s.EncOCRBlocks)
		require.Positive(t, s.EncOCRDocs)
		require.Positive(t, s.EncOCRPages)
		require.Greater(t, s.FloorBlock, s.FloorSkip)
	}
	require.Less(t, short.EncRounds, full.EncRounds)
	require.Less(t, short.EncOCRBlocks, full.EncOCRBlocks)
	require.Less(t, short.EncOCRDocs*short.EncOCRPages, full.EncOCRDocs*full.EncOCRPages)
	require.Zero(t, full.EncOCRBlocks%2, "whole A B B A pairs")
	require.LessOrEqual(t, full.EncOCRPages, len(ocrMarkers), "a marker word of its own per page of a document")
}

// Scenario 10's section renders from its sides: the floor, throughput and
// OCR tables with the ratios, the checks, and two targets.
func TestEncryptionSectionRenders(t *testing.T) {
	set := settings(true)
	d := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	sides := func() (*encSide, *encSide) {
		on := &encSide{apiSide: apiSide{name: encOn}, encrypted: true, payloads: map[string]int{encodingEncrypted: 6}, blobs: blobCount{sealed: 7}}
		off := &encSide{apiSide: apiSide{name: encOff}, payloads: map[string]int{"json/plain": 6}, blobs: blobCount{plain: 7}}
		addAll(&on.floor, []time.Duration{d(102)})
		addAll(&off.floor, []time.Duration{d(100)})
		addAll(&on.totals.lat, []time.Duration{d(100), d(100)})
		on.totals.blocks, off.totals.blocks = []float64{80, 90}, []float64{100, 100}
		on.roles, on.cpu = map[string]int{roleAPI: 1, roleWorker: 2, roleServer: 3}, map[string]time.Duration{roleAPI: d(3), roleWorker: d(5), roleServer: d(40)}
		on.ocr = encOCR{blocks: []float64{3.0, 3.2}, pages: 8, recall: []float64{1, 0.9}, cpu: map[string]time.Duration{cpuTesseract: d(4000), roleWorker: d(80)}}
		off.ocr = encOCR{blocks: []float64{3.2, 3.2}, pages: 8, recall: []float64{1}}
		return on, off
	}

	b := &Bench{Set: set}
	on, off := sides()
	sec := &Section{Title: "Scenario 10: cost of encryption"}
	encReport(b, sec, set, []*encSide{on, off}, "")
	out := render(sec)
	require.Contains(t, out, "| "+encOn+" | 1 | 102.0 | 102.0 | 102.0 | 0.0 | 1.02 (met) |")
	require.Contains(t, out, "| "+encOff+" | 1 | 100.0 | 100.0 | 100.0 | 0.0 |  |")
	require.Contains(t, out, "| "+encOn+" | 2 | 0 | 80, 90 | 85.0 | 100.0 | 100.0 | 0.85 (**missed**) | 1.50 | 2.50 | 20.00 |")
	require.Contains(t, out, "| "+encOff+" | 0 | 0 | 100, 100 | 100.0 | 0.0 | 0.0 |  | - | - | - |")
	require.Contains(t, out, "| "+encOn+" | 8 | 0 | 3.00, 3.20 | 3.10 | 0.97 | 500.0 | 10.0 | 0.0 | 0.0 | 0.90 / 0.95 |")
	require.Contains(t, out, "on *"+encOn+"*: binary/encrypted 6; on *"+encOff+"*: json/plain 6.")
	require.Contains(t, out, "held 7 objects, 7 of them sealed (beginning with `DKTE1`)")
	require.Contains(t, out, "latency floor 1.02× of off, trivial-job throughput 0.85×, OCR pages per second 0.97×")
	require.Len(t, b.Targets, 2)
	for _, r := range b.Targets {
		require.Equal(t, "10", r.scenario)
	}
	require.Equal(t, "met", b.Targets[0].verdict)
	require.Equal(t, "**missed**", b.Targets[1].verdict)

	// Without tesseract the OCR part says why, and the targets still count.
	b = &Bench{Set: set}
	on, off = sides()
	sec = &Section{Title: "Scenario 10: cost of encryption"}
	encReport(b, sec, set, []*encSide{on, off}, "`tesseract` is not on PATH.")
	out = render(sec)
	require.Contains(t, out, "**OCR skipped:** `tesseract` is not on PATH.")
	require.Contains(t, out, "The blob stores were not checked")
	require.NotContains(t, out, "pages/s per block")
	require.Len(t, b.Targets, 2)
}
