package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/docket-dev/docket/tools/testdocs"
)

// Scenario 10's sides.
const (
	encOn  = "encryption on (key ring)"
	encOff = "encryption off"
)

// encTargetGap is how far apart scenario 10's sides may be in the latency
// floor and in trivial-job throughput.
const encTargetGap = 0.05

// What encryption leaves where this program sees it, as internal/crypt
// writes it (the harness does not link Docket's packages; the tests hold
// these to crypt's own): the encoding of an encrypted Temporal payload,
// and the first bytes of a sealed object.
const (
	encodingEncrypted = "binary/encrypted"
	sealedMagic       = "DKTE1"
)

// The processes whose CPU time scenario 10 counts, by role.
const (
	roleAPI    = "API"
	roleWorker = "worker"
	roleServer = "server"
)

// encSide is one stack of scenario 10: a worker and an API on their own
// task queue, both with the key ring or both without.
type encSide struct {
	apiSide
	encrypted bool
	queue     string
	st        *Stack
	payloads  map[string]int // encoding → count, over a checked job's history
	blobs     blobCount      // the blob store after the OCR warm-up
	ocr       encOCR
}

// blobCount is how many objects of a blob store are sealed, and how many not.
type blobCount struct{ sealed, plain int }

// encOCR is one side's OCR blocks.
type encOCR struct {
	docIDs []string  // the documents, uploaded to this side's blob store
	blocks []float64 // pages/s of each block
	pages  int
	errs   int
	first  error
	recall []float64
	cpu    map[string]time.Duration // role (or cpuTesseract) → CPU time over the blocks
	wall   time.Duration
}

// encDoc is one generated multi-page document of scenario 10.
type encDoc struct {
	pages []*ocrPage
	tiff  []byte
}

// encryptionScenario measures what encryption at rest costs: scenario 3's
// latency floor and scenario 2's trivial-job throughput, then OCR pages per
// second of multi-page scanned documents, on two stacks of the same server,
// one whose worker and API have a key ring and one whose have none, in
// alternating blocks.
func encryptionScenario(ctx context.Context, b *Bench, sec *Section) error {
	ring := filepath.Join(b.Env.Dir, "encryption-keys.json")
	// As scripts/run.sh makes make run's ring.
	if out, err := exec.CommandContext(ctx, filepath.Join(b.Env.Bin, "docket-api"), "keyring", "new", ring).CombinedOutput(); err != nil {
		return fmt.Errorf("docket-api keyring new: %w: %s", err, out)
	}
	s, err := b.Env.StartServer(ctx, "enc", storageFileWAL, tuningFast)
	if err != nil {
		return err
	}
	defer s.Stop()
	sides := []*encSide{
		{apiSide: apiSide{name: encOn}, encrypted: true, queue: "docket-enc"},
		{apiSide: apiSide{name: encOff}, queue: "docket-plain"},
	}
	for _, x := range sides {
		var env []string
		if x.encrypted {
			env = []string{envEncryptionKeys + "=" + ring}
		}
		st, err := b.Env.StartStackWith(ctx, s, x.queue, true, env, env)
		if err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
		defer st.Stop()
		x.st, x.api = st, newAPIJobs(st.APIURL)
		x.roles = map[string]int{roleAPI: st.API.PID(), roleWorker: st.Worker.PID(), roleServer: s.PID()}
	}
	// What is measured must be what is meant: payloads encrypted on one
	// side and plain on the other.
	for _, x := range sides {
		if err := x.checkPayloads(ctx); err != nil {
			return err
		}
	}

	set := b.Set
	if err := compareAPIs(ctx, set, set.EncRounds, []*apiSide{&sides[0].apiSide, &sides[1].apiSide}); err != nil {
		return err
	}
	skip, err := encOCRBlocks(ctx, b.Env, set, sides)
	if err != nil {
		return err
	}
	encReport(b, sec, set, sides, skip)
	return nil
}

// checkPayloads runs a job through x's API and checks the payloads of its
// history as the server stores them: all encrypted on the encrypted side,
// none on the other.
func (x *encSide) checkPayloads(ctx context.Context) error {
	id, err := x.api.run(ctx)
	if err != nil {
		return fmt.Errorf("%s: a job: %w", x.name, err)
	}
	it := x.st.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var evs []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return fmt.Errorf("%s: history of job %s: %w", x.name, id, err)
		}
		evs = append(evs, e)
	}
	x.payloads = payloadEncodings(evs)
	if err := encryptionHolds(x.payloads, x.encrypted); err != nil {
		return fmt.Errorf("%s: job %s: %w", x.name, id, err)
	}
	return nil
}

// payloadEncodings counts the encodings of a history's payloads: the
// workflow's input and memo, every activity's input and result, and the
// workflow's result.
func payloadEncodings(evs []*historypb.HistoryEvent) map[string]int {
	out := map[string]int{}
	add := func(p *commonpb.Payload) { out[string(p.GetMetadata()["encoding"])]++ }
	for _, e := range evs {
		if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			for _, p := range a.GetInput().GetPayloads() {
				add(p)
			}
			for _, p := range a.GetMemo().GetFields() {
				add(p)
			}
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			for _, p := range a.GetInput().GetPayloads() {
				add(p)
			}
		}
		if a := e.GetActivityTaskCompletedEventAttributes(); a != nil {
			for _, p := range a.GetResult().GetPayloads() {
				add(p)
			}
		}
		if a := e.GetWorkflowExecutionCompletedEventAttributes(); a != nil {
			for _, p := range a.GetResult().GetPayloads() {
				add(p)
			}
		}
	}
	return out
}

// encryptionHolds checks a history's payload encodings: with encryption,
// some payloads and every one encrypted; without, some and none.
func encryptionHolds(encodings map[string]int, encrypted bool) error {
	total := 0
	for _, n := range encodings {
		total += n
	}
	switch {
	case total == 0:
		return fmt.Errorf("no payload in the history to check")
	case encrypted && encodings[encodingEncrypted] != total:
		return fmt.Errorf("encryption is on, yet %d of %d payloads are not %s: %s", total-encodings[encodingEncrypted], total, encodingEncrypted, fmtCounts(encodings))
	case !encrypted && encodings[encodingEncrypted] > 0:
		return fmt.Errorf("encryption is off, yet %d of %d payloads are %s", encodings[encodingEncrypted], total, encodingEncrypted)
	}
	return nil
}

// fmtCounts formats counts by name, in name order: "a 2, b 1".
func fmtCounts(m map[string]int) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := k
		if name == "" {
			name = "(none)"
		}
		s = append(s, fmt.Sprintf("%s %d", name, m[k]))
	}
	return strings.Join(s, ", ")
}

// countBlobs counts the objects of a file blob store under dir (its
// .attrs sidecars left out) that begin with the sealed envelope's magic,
// and those that do not.
func countBlobs(dir string) (blobCount, error) {
	var c blobCount
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".attrs") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		head := make([]byte, len(sealedMagic))
		n, _ := f.Read(head)
		if string(head[:n]) == sealedMagic {
			c.sealed++
		} else {
			c.plain++
		}
		return nil
	})
	return c, err
}

// blobsHold checks a blob store's counts: with encryption, some objects
// and every one sealed; without, some and none.
func blobsHold(c blobCount, encrypted bool) error {
	switch {
	case c.sealed+c.plain == 0:
		return fmt.Errorf("no object in the blob store to check")
	case encrypted && c.plain > 0:
		return fmt.Errorf("encryption is on, yet %d of %d stored objects are not sealed", c.plain, c.sealed+c.plain)
	case !encrypted && c.sealed > 0:
		return fmt.Errorf("encryption is off, yet %d of %d stored objects are sealed", c.sealed, c.sealed+c.plain)
	}
	return nil
}

// encDocs renders n documents of pages pages each, as multi-page TIFFs
// (uncompressed gray, as scenario 5's), every page with its own marker word.
func encDocs(n, pages int) ([]encDoc, error) {
	docs := make([]encDoc, n)
	for d := range docs {
		rasters := make([]testdocs.TIFFPage, pages)
		for i := range pages {
			marker := ocrMarkers[(d*pages+i)%len(ocrMarkers)]
			lines := ocrLines(i+1, pages, marker)
			img, err := testdocs.Render(lines, ocrPX)
			if err != nil {
				return nil, err
			}
			rasters[i] = testdocs.TIFFPage{Img: img}
			docs[d].pages = append(docs[d].pages, &ocrPage{n: i + 1, marker: marker, words: ocrWords(strings.Join(lines, " "))})
		}
		docs[d].tiff = testdocs.TIFF(binary.LittleEndian, rasters)
	}
	return docs, nil
}

// encOCRBlocks uploads the documents to each side, warms up, checks each
// side's blob store, and runs the OCR blocks. It returns why it skipped
// them, when it did.
func encOCRBlocks(ctx context.Context, env *Env, set Settings, sides []*encSide) (string, error) {
	for _, x := range sides {
		if skip, err := ocrSkipReason(ctx, x.api); err != nil || skip != "" {
			return skip, err
		}
	}
	docs, err := encDocs(set.EncOCRDocs, set.EncOCRPages)
	if err != nil {
		return "", err
	}
	for _, x := range sides {
		for i, d := range docs {
			id, err := x.api.uploadDocument(ctx, d.tiff, fmt.Sprintf("scan-%d.tif", i+1), "image/tiff")
			if err != nil {
				return "", fmt.Errorf("%s: %w", x.name, err)
			}
			x.ocr.docIDs = append(x.ocr.docIDs, id)
		}
	}
	// Warm up untimed (tesseract's language data, the worker's language
	// check), then check what each side stored: the uploads, and whatever
	// the warm-up job wrote.
	for _, x := range sides {
		res, _ := x.api.ocrMultiJob(ctx, x.ocr.docIDs[0], docs[0].pages)
		for _, r := range res {
			if r.err != nil {
				return "", fmt.Errorf("warm-up %s: %w", x.name, r.err)
			}
		}
		if x.blobs, err = countBlobs(filepath.Join(env.dataDir(x.st.Server, x.queue), "blobs")); err != nil {
			return "", fmt.Errorf("%s: %w", x.name, err)
		}
		if err := blobsHold(x.blobs, x.encrypted); err != nil {
			return "", fmt.Errorf("%s: %w", x.name, err)
		}
	}
	for blk := range set.EncOCRBlocks {
		for _, x := range abba(sides, blk) {
			if err := x.ocrBlock(ctx, docs); err != nil {
				return "", err
			}
		}
	}
	return "", nil
}

// ocrBlock runs a document job over each of x's documents, all at once,
// and adds the block's pages per second (first submit to last result).
func (x *encSide) ocrBlock(ctx context.Context, docs []encDoc) error {
	pids := []int{x.roles[roleAPI], x.roles[roleWorker], x.roles[roleServer]}
	before, childBefore := snapshotCPU(pids...), childCPU(x.roles[roleWorker])
	res := make([][]ocrOutcome, len(docs))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, d := range docs {
		wg.Go(func() { res[i], _ = x.api.ocrMultiJob(ctx, x.ocr.docIDs[i], d.pages) })
	}
	wg.Wait()
	elapsed := time.Since(t0)
	used, childUsed := snapshotCPU(pids...).since(before), childCPU(x.roles[roleWorker])-childBefore
	if ctx.Err() != nil {
		return ctx.Err()
	}
	o := &x.ocr
	if o.cpu == nil {
		o.cpu = map[string]time.Duration{}
	}
	for role, p := range x.roles {
		o.cpu[role] += used[p]
	}
	o.cpu[cpuTesseract] += childUsed
	ok, all := 0, 0
	for _, doc := range res {
		for _, r := range doc {
			all++
			if r.err != nil {
				o.errs++
				if o.first == nil {
					o.first = r.err
				}
				continue
			}
			ok++
			o.recall = append(o.recall, r.doc.recall)
		}
	}
	o.pages += ok
	o.wall += elapsed
	rate := float64(ok) / elapsed.Seconds()
	o.blocks = append(o.blocks, rate)
	fmt.Printf("   %-24s OCR block %d: %3d pages in %s, %5.2f pages/s, errors %d\n", x.name, len(o.blocks), ok, elapsed.Round(time.Millisecond), rate, all-ok)
	return nil
}

// perPage is d per OCRed page in ms ("-" when none).
func (o *encOCR) perPage(d time.Duration) string {
	if o.pages == 0 {
		return "-"
	}
	return ms(d / time.Duration(o.pages))
}

// encReport writes scenario 10's section from its sides (encryption on,
// then off) and records its targets; ocrSkip says why the OCR blocks did
// not run, when they did not.
func encReport(b *Bench, sec *Section, set Settings, sides []*encSide, ocrSkip string) {
	on, off := sides[0], sides[1]
	sec.Para("Two stacks on one dev server with make run's storage and dynamic config, each a bin/worker and a bin/docket-api on a task queue of its own "+
		"(so that neither worker takes the other's jobs, and each decodes what its own API wrote): on *%s* both processes have `%s`, "+
		"a key ring of one key made by `bin/docket-api keyring new` as `make run` makes its own, so every Temporal payload they write (inputs, memos, results, failures) "+
		"is AES-256-GCM encrypted by their data converter's codec and every object of their blob store is sealed (a fresh data key per object, wrapped by the ring's key); "+
		"on *%s* neither has it and everything is stored plain. "+
		"**Floor:** one trivial job at a time as scenario 3 runs them (`POST /jobs` then `GET /jobs/{id}/results?wait=30s`), %d blocks of %d jobs per side in turn A B B A …, "+
		"of which the first %d of each block are not counted. **Throughput:** scenario 2's load, %d blocks of %d jobs per side with %d concurrent clients, in turn A B B A …; "+
		"ratios compare median blocks. CPU per job is each side's own API and worker, and the shared server, over that side's blocks (one side runs at a time). "+
		"Target: the two sides within %.0f%% of each other, floor and throughput.",
		encOn, envEncryptionKeys, encOff, set.EncRounds*2, set.FloorBlock, set.FloorSkip, set.TrivialBlocks, set.TrivialJobs, set.TrivialConc, 100*encTargetGap)
	sec.Para("Checked from what the server and the blob stores hold, before the blocks each check bears on (a failed check stops the scenario): "+
		"the payloads of a job's history (the workflow's input and memo, the activity's input and result, the workflow's result) by encoding, on *%s*: %s; on *%s*: %s.%s",
		encOn, fmtCounts(on.payloads), encOff, fmtCounts(off.payloads), blobsSentence(on, off, ocrSkip))

	floorT := b.target("10", fmt.Sprintf("latency floor (p50) with encryption within %.0f%% of without", 100*encTargetGap),
		fmt.Sprintf("%s vs %s ms (%s×)", ms(on.floor.P(0.5)), ms(off.floor.P(0.5)), ratio(float64(on.floor.P(0.5)), float64(off.floor.P(0.5)))),
		withinGap(float64(on.floor.P(0.5)), float64(off.floor.P(0.5)), encTargetGap))
	thrT := b.target("10", fmt.Sprintf("trivial-job throughput with encryption within %.0f%% of without (median blocks)", 100*encTargetGap),
		fmt.Sprintf("%.1f vs %.1f jobs/s (%s×)", on.totals.median(), off.totals.median(), ratio(on.totals.median(), off.totals.median())),
		withinGap(on.totals.median(), off.totals.median(), encTargetGap))

	ft := &Table{Header: []string{"stack", "floor jobs", "p50 ms", "p99 ms", "mean ms", "POST /jobs p50 ms", "p50 on ÷ off"}}
	tt := &Table{Header: []string{"stack", "jobs", "errors", "jobs/s per block", "median block jobs/s", "p50 ms", "p99 ms", "on ÷ off",
		"API CPU ms/job", "worker CPU ms/job", "server CPU ms/job"}}
	for _, x := range sides {
		fv, tv := "", ""
		if x == on {
			fv = ratio(float64(x.floor.P(0.5)), float64(off.floor.P(0.5))) + " (" + floorT + ")"
			tv = ratio(x.totals.median(), off.totals.median()) + " (" + thrT + ")"
		}
		ft.Add(x.name, fmt.Sprint(x.floor.N()), ms(x.floor.P(0.5)), ms(x.floor.P(0.99)), ms(x.floor.Mean()), ms(x.post.P(0.5)), fv)
		tt.Add(x.name, fmt.Sprint(x.totals.lat.N()), fmt.Sprint(x.totals.lat.Errors()), fmtRates(x.totals.blocks), fmt.Sprintf("%.1f", x.totals.median()),
			ms(x.totals.lat.P(0.5)), ms(x.totals.lat.P(0.99)), tv, x.cpuPerJob(roleAPI), x.cpuPerJob(roleWorker), x.cpuPerJob(roleServer))
	}
	sec.Para("Latency floor:")
	sec.Table(ft)
	sec.Para("Trivial-job throughput:")
	sec.Table(tt)
	for _, x := range sides {
		if err := x.totals.lat.FirstError(); err != nil {
			sec.Para("%d errors on %s; the first: `%v`", x.totals.lat.Errors(), x.name, strings.TrimSpace(err.Error()))
		}
	}

	if ocrSkip != "" {
		sec.Para("**OCR skipped:** %s", ocrSkip)
		return
	}
	sec.Para("**OCR:** %d scanned documents per side, each a multi-page TIFF of %d pages (`tools/testdocs`, scenario 5's pages: Go Regular at %d px per em, "+
		"about 11 pt at 300 DPI, uncompressed gray), uploaded once to each side with `POST /documents` (sealed on *%s*). "+
		"A block submits a document job (`{\"document_id\":…,\"steps\":[\"ocr\"]}`) for every document at once and waits for each with "+
		"`GET /jobs/{id}/results?wait=30s`; its pages per second run from the first submit to the last result. On *%s* the worker opens the sealed document, "+
		"and the result, every page's text, is an encrypted payload. %d blocks per side, in turn A B B A …; every page's marker word must be in its text. "+
		"CPU per page is the side's API, its worker's own (without its tesseract children, the *tesseract* column) and the shared server, over that side's blocks. "+
		"No target: the ratio is reported.",
		set.EncOCRDocs, set.EncOCRPages, ocrPX, encOn, encOn, set.EncOCRBlocks)
	ot := &Table{Header: []string{"stack", "pages", "errors", "pages/s per block", "median block pages/s", "on ÷ off",
		"tesseract CPU ms/page", "worker CPU ms/page", "API CPU ms/page", "server CPU ms/page", "word recall (min / mean)"}}
	for _, x := range sides {
		o := &x.ocr
		v := ""
		if x == on {
			v = ratio(ocrMedian(o.blocks), ocrMedian(off.ocr.blocks))
		}
		ot.Add(x.name, fmt.Sprint(o.pages), fmt.Sprint(o.errs), fmtRatesPrec(o.blocks), fmt.Sprintf("%.2f", ocrMedian(o.blocks)), v,
			o.perPage(o.cpu[cpuTesseract]), o.perPage(o.cpu[roleWorker]), o.perPage(o.cpu[roleAPI]), o.perPage(o.cpu[roleServer]), recallCell(o.recall))
	}
	sec.Table(ot)
	for _, x := range sides {
		if x.ocr.first != nil {
			sec.Para("%d OCR errors on %s; the first: `%v`", x.ocr.errs, x.name, strings.TrimSpace(x.ocr.first.Error()))
		}
	}
	sec.Para("With encryption on: latency floor %s× of off, trivial-job throughput %s×, OCR pages per second %s× (median blocks).",
		ratio(float64(on.floor.P(0.5)), float64(off.floor.P(0.5))), ratio(on.totals.median(), off.totals.median()),
		ratio(ocrMedian(on.ocr.blocks), ocrMedian(off.ocr.blocks)))
}

// blobsSentence states the blob stores' check, or why there was none.
func blobsSentence(on, off *encSide, ocrSkip string) string {
	if ocrSkip != "" {
		return " The blob stores were not checked: the OCR blocks, which store documents, were skipped."
	}
	return fmt.Sprintf(" After the OCR warm-up, *%s*'s blob store held %d objects, %d of them sealed (beginning with `%s`); *%s*'s held %d, %d sealed.",
		on.name, on.blobs.sealed+on.blobs.plain, on.blobs.sealed, sealedMagic, off.name, off.blobs.sealed+off.blobs.plain, off.blobs.sealed)
}
