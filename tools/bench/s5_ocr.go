package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/docket-dev/docket/tools/testdocs"
)

// ocrPX is the size pages are rendered at: about 11 pt text scanned at
// 300 DPI, what tesseract is trained on.
const ocrPX = 36

// ocrMarkers are the pages' marker words, one per page, plain dictionary
// words that a working OCR reads back exactly.
var ocrMarkers = []string{"amber", "bishop", "copper", "dolphin", "ember", "falcon", "garnet", "harbor",
	"indigo", "juniper", "kettle", "lantern", "meadow", "nickel", "orchid", "pepper"}

// ocrBody is the fixed text of every page, after its marker line.
var ocrBody = []string{
	"Invoice 4471 was issued on 12 March 2024 to Acme Supplies Ltd.",
	"The quick brown fox jumps over the lazy dog near the river bank.",
	"Payment of 1,250.00 euros is due within thirty days of receipt.",
	"Please quote the reference number on every letter you send us.",
	"Goods remain our property until the invoice is paid in full.",
	"Questions about this statement go to accounts at the main office.",
	"Thank you for your business; we look forward to working with you.",
}

// ocrPage is one generated page image.
type ocrPage struct {
	n      int
	marker string
	words  []string // expected words, lower case
	path   string   // the PNG on disk, for raw tesseract
	docID  string   // its id after POST /documents
}

func ocrLines(n, total int, marker string) []string {
	return append([]string{fmt.Sprintf("Docket benchmark page %d of %d, marker word %s.", n, total, marker)}, ocrBody...)
}

// ocrDoc is one page's outcome on either side.
type ocrDoc struct {
	id      string    // the job (Docket side only)
	start   time.Time // when it was submitted
	elapsed time.Duration
	cpu     time.Duration // tesseract's CPU time (raw side only)
	recall  float64       // share of the page's expected words found in the text
	ocrMS   int64         // the job's timings_ms.ocr (Docket side only)
}

// ocrSide runs one page end to end (run), or every page of a block at
// once (block, for the multi-page document).
type ocrSide struct {
	name  string
	run   func(ctx context.Context, p *ocrPage) (ocrDoc, error)
	block func(ctx context.Context) ([]ocrOutcome, time.Duration)
}

// pathAPIMulti is the Docket side with every page in one document.
const pathAPIMulti = "Docket API, one multi-page TIFF"

// ocrScenario compares document jobs with tesseract run directly on the
// same page images at the same parallelism, in interleaved blocks, and the
// latency of one one-page job with tesseract's time for that page.
func ocrScenario(ctx context.Context, b *Bench, sec *Section) error {
	api := newAPIJobs(b.Main.APIURL)
	if skip, err := ocrSkipReason(ctx, api); err != nil || skip != "" {
		if skip != "" {
			sec.Para("**Skipped:** %s", skip)
		}
		return err
	}

	nPages, blocks, rounds := 12, 5, 8
	if b.Set.Short {
		nPages, blocks, rounds = 4, 1, 2
	}
	par := ocrConcurrency()

	// Generate and upload the pages.
	dir := filepath.Join(b.Env.Dir, "s5-pages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pages := make([]*ocrPage, nPages)
	rasters := make([]testdocs.TIFFPage, nPages)
	var width, height int
	for i := range pages {
		marker := ocrMarkers[i%len(ocrMarkers)]
		lines := ocrLines(i+1, nPages, marker)
		img, err := testdocs.Render(lines, ocrPX)
		if err != nil {
			return err
		}
		width, height = max(width, img.Rect.Dx()), max(height, img.Rect.Dy())
		rasters[i] = testdocs.TIFFPage{Img: img}
		png, err := testdocs.PNG(lines, ocrPX)
		if err != nil {
			return err
		}
		p := &ocrPage{n: i + 1, marker: marker, words: ocrWords(strings.Join(lines, " ")), path: filepath.Join(dir, fmt.Sprintf("page-%02d.png", i+1))}
		if err := os.WriteFile(p.path, png, 0o644); err != nil {
			return err
		}
		if p.docID, err = api.uploadDocument(ctx, png, filepath.Base(p.path), "image/png"); err != nil {
			return err
		}
		pages[i] = p
	}
	// The same rasters as one document: a multi-page TIFF holds them as
	// they are (uncompressed gray), where a PDF would add rasterising.
	tiffID, err := api.uploadDocument(ctx, testdocs.TIFF(binary.LittleEndian, rasters), "pages.tif", "image/tiff")
	if err != nil {
		return err
	}

	docket := ocrSide{name: pathAPI, run: func(ctx context.Context, p *ocrPage) (ocrDoc, error) { return api.ocrJob(ctx, p) }}
	raw := ocrSide{name: "tesseract", run: rawTesseract}
	multi := ocrSide{name: pathAPIMulti, block: func(ctx context.Context) ([]ocrOutcome, time.Duration) {
		return api.ocrMultiJob(ctx, tiffID, pages)
	}}
	sides := []ocrSide{docket, raw}
	tputSides := []ocrSide{docket, multi, raw}

	// Warm up both sides untimed (page cache, tesseract's language data,
	// the worker's language check).
	for _, s := range sides {
		if _, err := s.run(ctx, pages[0]); err != nil {
			return fmt.Errorf("warm-up %s: %w", s.name, err)
		}
	}
	if res, _ := multi.block(ctx); res[0].err != nil {
		return fmt.Errorf("warm-up %s: %w", multi.name, res[0].err)
	}

	// Throughput: every page as its own one-page document. Docket gets all
	// the jobs at once and runs par of them at a time
	// (DOCKET_OCR_CONCURRENCY); tesseract runs as par processes taking
	// pages from a queue.
	type tput struct {
		blocks []float64 // pages/s of each block
		pages  int
		errs   int
		first  error
		recall []float64
		cpu    map[string]time.Duration // CPU time by process role
		busy   time.Duration            // Σ timings_ms.ocr (Docket side)
		wall   time.Duration            // Σ block wall time
	}
	totals := map[string]*tput{}
	for _, s := range tputSides {
		totals[s.name] = &tput{cpu: map[string]time.Duration{}}
	}
	roles := mainRoles(b.Main)
	workerPID := b.Main.Worker.PID()
	var slowest ocrDoc // the slowest one-page job, explained in the report
	for blk := range blocks {
		order := slices.Clone(tputSides)
		if blk%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			conc := par
			if s.name == pathAPI {
				conc = len(pages) // the worker limits it to par
			}
			before, childBefore := snapshotCPU(roles.pids()...), childCPU(workerPID)
			var res []ocrOutcome
			var elapsed time.Duration
			if s.block != nil {
				res, elapsed = s.block(ctx)
			} else {
				res, elapsed = ocrBlock(ctx, conc, pages, s.run)
			}
			used, childUsed := snapshotCPU(roles.pids()...).since(before), childCPU(workerPID)-childBefore
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t := totals[s.name]
			for _, n := range roles.names {
				t.cpu[n] += used[roles.pid[n]]
			}
			t.cpu[cpuTesseract] += childUsed // the worker's tools; 0 on the raw side
			for _, r := range res {
				t.cpu[cpuTesseract] += r.doc.cpu // raw tesseract; 0 on the Docket side
			}
			ok := 0
			for _, r := range res {
				if r.err != nil {
					t.errs++
					if t.first == nil {
						t.first = r.err
					}
					continue
				}
				ok++
				if s.name == pathAPI && r.doc.elapsed > slowest.elapsed {
					slowest = r.doc
				}
				t.recall = append(t.recall, r.doc.recall)
				if s.name == pathAPI {
					t.busy += time.Duration(r.doc.ocrMS) * time.Millisecond
				}
			}
			t.pages += ok
			t.wall += elapsed
			rate := float64(ok) / elapsed.Seconds()
			t.blocks = append(t.blocks, rate)
			fmt.Printf("   %-32s block %d: %3d pages in %s, %5.2f pages/s, errors %d\n", s.name, blk+1, ok, elapsed.Round(time.Millisecond), rate, len(pages)-ok)
		}
	}

	// Latency: one one-page PNG job at a time against one tesseract run
	// on the same page, alternating.
	lat := map[string]*Sample{pathAPI: {}, raw.name: {}}
	var workerOCR Sample
	for r := range rounds {
		order := slices.Clone(sides)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			d, err := s.run(rctx, pages[0])
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				lat[s.name].Fail(err)
				continue
			}
			lat[s.name].Add(d.elapsed)
			if s.name == pathAPI && d.ocrMS > 0 {
				workerOCR.Add(time.Duration(d.ocrMS) * time.Millisecond)
			}
		}
	}

	// Report.
	dk, tr := totals[pathAPI], totals[raw.name]
	sec.Para("%d generated one-page PNGs (`tools/testdocs`, Go Regular at %d px per em, about 11 pt scanned at 300 DPI; up to %d×%d px; "+
		"eight lines of fixed text, the first naming the page and its marker word), each uploaded once with `POST /documents`. "+
		"Parallelism %d on both sides (the core count): the bench worker runs with `DOCKET_OCR_CONCURRENCY=%d`, so %d one-page documents are OCRed at once, "+
		"and raw `tesseract PAGE.png stdout -l eng` runs as %d concurrent processes taking pages from a queue; both with `OMP_THREAD_LIMIT=1` "+
		"(the worker's ocr package sets it for its tesseract). "+
		"*%s*: all %d document jobs (`{\"document_id\":…,\"steps\":[\"ocr\"]}`) are submitted at once through `POST /jobs`, each waited for with "+
		"`GET /jobs/{id}/results?wait=30s`; a block's time runs from the first submit to the last result. "+
		"*%s*: the same %d rasters as the pages of one uncompressed TIFF, uploaded once, and one document job over it, whose OCR step reads %d pages at once "+
		"(`DOCKET_OCR_PARALLELISM` unset: one per core). "+
		"%d blocks per side, in turn A B C C B A …; the ratios compare the median blocks. "+
		"Every page's text is checked: its marker word must appear, else the page counts as an error; word recall is the share of the page's words found in the text.",
		nPages, ocrPX, width, height, par, par, par, par, pathAPI, nPages, pathAPIMulti, nPages, par, blocks)
	t := &Table{Header: []string{"path", "pages", "errors", "pages/s per block", "median block pages/s", "vs tesseract", "target ≥ 0.9×", "word recall (min / mean)"}}
	for _, s := range tputSides {
		x := totals[s.name]
		target := ""
		switch s.name {
		case pathAPI:
			target = b.target("5", fmt.Sprintf("document-job OCR pages/s ≥ 0.9 × raw tesseract at the same parallelism (median blocks), %d one-page documents", nPages),
				fmt.Sprintf("%.2f vs %.2f pages/s (%s×)", ocrMedian(x.blocks), ocrMedian(tr.blocks), ratio(ocrMedian(x.blocks), ocrMedian(tr.blocks))),
				x.errs == 0 && ocrMedian(x.blocks) >= 0.9*ocrMedian(tr.blocks))
		case pathAPIMulti:
			target = b.target("5", fmt.Sprintf("the same, the %d pages as one document", nPages),
				fmt.Sprintf("%.2f vs %.2f pages/s (%s×)", ocrMedian(x.blocks), ocrMedian(tr.blocks), ratio(ocrMedian(x.blocks), ocrMedian(tr.blocks))),
				x.errs == 0 && ocrMedian(x.blocks) >= 0.9*ocrMedian(tr.blocks))
		}
		t.Add(s.name, fmt.Sprint(x.pages), fmt.Sprint(x.errs), fmtRatesPrec(x.blocks), fmt.Sprintf("%.2f", ocrMedian(x.blocks)),
			ratio(ocrMedian(x.blocks), ocrMedian(tr.blocks)), target, recallCell(x.recall))
	}
	sec.Table(t)

	// Where the CPU goes, per page, over the same blocks.
	sec.Para("CPU time per page over the same blocks (from `/proc/PID/stat`; *tesseract* is the worker's waited-for children — tesseract and nothing else for PNGs — " +
		"or the raw processes' own rusage). With both cores busy, the CPU Docket's own processes spend per page is taken from tesseract: " +
		"it bounds the ratio at about tesseract ÷ (tesseract + the rest).")
	ct := &Table{Header: []string{"path", cpuTesseract + " ms/page", "worker ms/page", "API ms/page", "server ms/page", "this program ms/page", "total ms/page", fmt.Sprintf("wall ms/page × %d cores", par)}}
	for _, s := range tputSides {
		x := totals[s.name]
		per := func(d time.Duration) string {
			if x.pages == 0 {
				return "-"
			}
			return ms(d / time.Duration(x.pages))
		}
		var total time.Duration
		for _, d := range x.cpu {
			total += d
		}
		wall := 0.0
		for _, r := range x.blocks {
			wall += 1 / r
		}
		ct.Add(s.name, per(x.cpu[cpuTesseract]), per(x.cpu[roles.names[1]]), per(x.cpu[roles.names[0]]), per(x.cpu[roles.names[2]]), per(x.cpu[roles.names[3]]), per(total),
			fmt.Sprintf("%.1f", wall/float64(len(x.blocks))*1000*float64(par)))
	}
	sec.Table(ct)
	if dk.pages > 0 && tr.pages > 0 {
		var dkTotal time.Duration
		for _, d := range dk.cpu {
			dkTotal += d
		}
		perPage := func(d time.Duration, n int) float64 { return float64(d) / float64(n) / float64(time.Millisecond) }
		tess := perPage(dk.cpu[cpuTesseract], dk.pages)
		rest := perPage(dkTotal, dk.pages) - tess
		sec.Para("Where the time goes: Docket's own processes used %.0f ms of CPU per page (Temporal server %.0f, worker %.0f, API %.0f, this program's client %.0f) "+
			"next to tesseract's %.0f ms (raw: %.0f ms), so with every core busy the expected ratio is about %.2f; measured %s. "+
			"Each page here is a whole document job (workflow start, OCR activity on its own task queue, result), so this is the worst case: "+
			"a multi-page document pays that cost once for all its pages (the *%s* rows), and a server on other cores (the production topology) takes its share off the OCR cores.",
			rest, perPage(dk.cpu[roles.names[2]], dk.pages), perPage(dk.cpu[roles.names[1]], dk.pages), perPage(dk.cpu[roles.names[0]], dk.pages), perPage(dk.cpu[roles.names[3]], dk.pages),
			tess, perPage(tr.cpu[cpuTesseract], tr.pages), tess/(tess+rest), ratio(ocrMedian(dk.blocks), ocrMedian(tr.blocks)), pathAPIMulti)
		if dk.wall > 0 {
			sec.Para("The OCR activities (their `timings_ms.ocr`, start to finish on the worker) filled %.0f%% of the worker's %d OCR slots over the Docket blocks' wall time; "+
				"the rest is each job's start before its activity, the dispatch of the next activity task to a freed slot, and the block's tail (one slot idle while the last page finishes, as for raw tesseract). "+
				"The activity itself is slower than raw tesseract's time for a page because tesseract shares the cores with the server and the worker.",
				100*float64(dk.busy)/float64(dk.wall)/float64(par), par)
		}
	}
	if slowest.id != "" {
		sec.Para("The slowest one-page job of these blocks took %s ms from submit to result; its history, from its submission: %s",
			ms(slowest.elapsed), timeline(ctx, b.Main.client, slowest.id, slowest.start, slowest.start.Add(slowest.elapsed)))
	}
	for _, s := range tputSides {
		if x := totals[s.name]; x.first != nil {
			sec.Para("%d errors on %s; the first: `%v`", x.errs, s.name, strings.TrimSpace(x.first.Error()))
		}
	}

	la, lr := lat[pathAPI], lat[raw.name]
	sec.Para("One-page latency: page 1 (%s) alone, %d times per side, alternating. *%s* is `POST /jobs` to the result read by `GET /jobs/{id}/results?wait=30s` "+
		"(the PNG was uploaded beforehand); *tesseract* is one process on the same file, start to exit. "+
		"*worker OCR* is the job's own `timings_ms.ocr` (the OCR activity, start to finish on the worker).",
		filepath.Base(pages[0].path), rounds, pathAPI)
	lt := &Table{Header: []string{"path", "runs", "errors", "p50 ms", "max ms", "vs tesseract p50", "overhead p50 ms"}}
	lt.Add(pathAPI, fmt.Sprint(la.N()), fmt.Sprint(la.Errors()), ms(la.P(0.5)), ms(la.P(1)), ratio(float64(la.P(0.5)), float64(lr.P(0.5))), ms(la.P(0.5)-lr.P(0.5)))
	if workerOCR.N() > 0 {
		lt.Add("worker OCR (`timings_ms.ocr`)", fmt.Sprint(workerOCR.N()), "", ms(workerOCR.P(0.5)), ms(workerOCR.P(1)),
			ratio(float64(workerOCR.P(0.5)), float64(lr.P(0.5))), ms(workerOCR.P(0.5)-lr.P(0.5)))
	}
	lt.Add("tesseract", fmt.Sprint(lr.N()), fmt.Sprint(lr.Errors()), ms(lr.P(0.5)), ms(lr.P(1)), "1.00", "0.0")
	sec.Table(lt)
	for name, s := range lat {
		if err := s.FirstError(); err != nil {
			sec.Para("%d latency errors on %s; the first: `%v`", s.Errors(), name, strings.TrimSpace(err.Error()))
		}
	}
	return nil
}

// ocrSkipReason says why document jobs cannot be measured through api
// ("" when they can): the API does not know job type document, or
// tesseract is not on PATH.
func ocrSkipReason(ctx context.Context, api *apiJobs) (string, error) {
	_, status, err := api.submit(ctx, `{"type":"document","input":{}}`)
	var problem struct {
		Field string `json:"field"`
	}
	if status == http.StatusUnprocessableEntity {
		_ = json.Unmarshal([]byte(errDetail(err)), &problem)
	}
	switch {
	case status == http.StatusUnprocessableEntity && problem.Field == "type":
		return "`POST /jobs` rejects job type `document` (422): the document job does not exist yet.", nil
	case status == 0 && err != nil:
		return "", err
	}
	if !hasTesseract() {
		return "`tesseract` is not on PATH (`scripts/deps.sh` installs it).", nil
	}
	return "", nil
}

// cpuTesseract labels the OCR tools' CPU time.
const cpuTesseract = "tesseract"

// childCPU is the CPU time of pid's children that it has waited for
// (cutime+cstime): for the worker, its tools.
func childCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3; cutime is field 16, cstime field 17.
	if len(f) < 15 {
		return 0
	}
	var cu, cs int64
	fmt.Sscan(f[13], &cu)
	fmt.Sscan(f[14], &cs)
	return time.Duration(cu+cs) * time.Second / clockTick
}

// ocrConcurrency is the parallelism of both sides: one per core, as the
// bench worker's DOCKET_OCR_CONCURRENCY.
func ocrConcurrency() int { return runtime.NumCPU() }

type ocrOutcome struct {
	doc ocrDoc
	err error
}

// ocrBlock runs every page with conc at a time and returns each outcome
// and the block's wall time.
func ocrBlock(ctx context.Context, conc int, pages []*ocrPage, run func(context.Context, *ocrPage) (ocrDoc, error)) ([]ocrOutcome, time.Duration) {
	out := make([]ocrOutcome, len(pages))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, len(pages)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(pages) || ctx.Err() != nil {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				d, err := run(rctx, pages[i])
				cancel()
				out[i] = ocrOutcome{d, err}
			}
		}()
	}
	wg.Wait()
	return out, time.Since(start)
}

// rawTesseract runs tesseract on the page as the worker's ocr package does.
func rawTesseract(ctx context.Context, p *ocrPage) (ocrDoc, error) {
	t := time.Now()
	cmd := exec.CommandContext(ctx, "tesseract", p.path, "stdout", "-l", "eng")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	d := ocrDoc{elapsed: time.Since(t)}
	if cmd.ProcessState != nil {
		d.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return d, fmt.Errorf("tesseract page %d: %w: %s", p.n, err, strings.TrimSpace(stderr.String()))
	}
	d.recall, err = checkPageText(p, string(out))
	return d, err
}

// checkPageText fails unless the page's marker word was read, and returns
// the share of its expected words found.
func checkPageText(p *ocrPage, text string) (float64, error) {
	got := map[string]bool{}
	for _, w := range ocrWords(text) {
		got[w] = true
	}
	found := 0
	for _, w := range p.words {
		if got[w] {
			found++
		}
	}
	recall := float64(found) / float64(len(p.words))
	if !got[p.marker] {
		return recall, fmt.Errorf("page %d: marker word %q not in the text (%d chars, word recall %.2f): %.80q", p.n, p.marker, len(text), recall, text)
	}
	return recall, nil
}

// ocrWords splits text into lower-case words of letters and digits.
func ocrWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// uploadDocument is POST /documents with the raw bytes; it returns the id
// and checks that the API saw the media type wanted.
func (a *apiJobs) uploadDocument(ctx context.Context, body []byte, filename, want string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/documents?filename="+filename, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := a.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /documents: %s: %s", resp.Status, b)
	}
	var v struct {
		ID        string `json:"id"`
		MediaType string `json:"media_type"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("POST /documents: no id in %s", b)
	}
	if v.MediaType != want {
		return "", fmt.Errorf("POST /documents: media type %q, want %s", v.MediaType, want)
	}
	return v.ID, nil
}

// ocrResult is the part of a document job's result the benchmark reads.
type ocrResult struct {
	Pages     int `json:"pages"`
	PageTexts []struct {
		Page int    `json:"page"`
		Text string `json:"text"`
		URL  string `json:"url"`
	} `json:"page_texts"`
	TimingsMS map[string]int64 `json:"timings_ms"`
}

// runOCRJob runs a document job with only the ocr step on a document and
// returns its result once readable.
func (a *apiJobs) runOCRJob(ctx context.Context, docID string) (string, ocrResult, error) {
	var out struct {
		Status string    `json:"status"`
		Result ocrResult `json:"result"`
	}
	id, _, err := a.submit(ctx, fmt.Sprintf(`{"type":"document","input":{"document_id":%q,"steps":["ocr"]}}`, docID))
	if err != nil {
		return "", out.Result, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/jobs/"+id+"/results?wait=30s", nil)
	if err != nil {
		return id, out.Result, err
	}
	var body []byte
	for {
		// A job longer than one long poll is asked again.
		resp, err := a.http.Do(req.Clone(ctx))
		if err != nil {
			return id, out.Result, err
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if resp.StatusCode != http.StatusConflict || strings.Contains(string(body), "ended") || ctx.Err() != nil {
			return id, out.Result, fmt.Errorf("job %s: GET results: %s: %s", id, resp.Status, body)
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return id, out.Result, fmt.Errorf("job %s: %w", id, err)
	}
	for _, pt := range out.Result.PageTexts {
		if pt.Text == "" && pt.URL != "" {
			return id, out.Result, fmt.Errorf("job %s: page %d text not inline", id, pt.Page)
		}
	}
	return id, out.Result, nil
}

// ocrJob runs a document job with only the ocr step on the page and checks
// its text.
func (a *apiJobs) ocrJob(ctx context.Context, p *ocrPage) (ocrDoc, error) {
	t := time.Now()
	id, r, err := a.runOCRJob(ctx, p.docID)
	d := ocrDoc{id: id, start: t, elapsed: time.Since(t)}
	if err != nil {
		return d, err
	}
	if r.Pages != 1 || len(r.PageTexts) != 1 {
		return d, fmt.Errorf("job %s: %d pages, %d page texts, want 1", id, r.Pages, len(r.PageTexts))
	}
	d.ocrMS = r.TimingsMS["ocr"]
	d.recall, err = checkPageText(p, r.PageTexts[0].Text)
	if err != nil {
		return d, fmt.Errorf("job %s: %w", id, err)
	}
	return d, nil
}

// ocrMultiJob runs one document job over the document holding every page,
// and checks each page's text.
func (a *apiJobs) ocrMultiJob(ctx context.Context, docID string, pages []*ocrPage) ([]ocrOutcome, time.Duration) {
	out := make([]ocrOutcome, len(pages))
	fail := func(err error) []ocrOutcome {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	t := time.Now()
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	id, r, err := a.runOCRJob(rctx, docID)
	elapsed := time.Since(t)
	if err != nil {
		return fail(err), elapsed
	}
	if r.Pages != len(pages) || len(r.PageTexts) != len(pages) {
		return fail(fmt.Errorf("job %s: %d pages, %d page texts, want %d", id, r.Pages, len(r.PageTexts), len(pages))), elapsed
	}
	seen := map[int]bool{}
	for _, pt := range r.PageTexts {
		if pt.Page < 1 || pt.Page > len(pages) || seen[pt.Page] {
			return fail(fmt.Errorf("job %s: page %d of %d, or twice", id, pt.Page, len(pages))), elapsed
		}
		seen[pt.Page] = true
		p := pages[pt.Page-1]
		o := &out[pt.Page-1]
		o.doc.elapsed = elapsed
		if o.doc.recall, o.err = checkPageText(p, pt.Text); o.err != nil {
			o.err = fmt.Errorf("job %s: %w", id, o.err)
		}
	}
	return out, elapsed
}

func ocrMedian(xs []float64) float64 { return (&sideTotals{blocks: xs}).median() }

func fmtRatesPrec(rs []float64) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(s, ", ")
}

func recallCell(rs []float64) string {
	if len(rs) == 0 {
		return "-"
	}
	sum := 0.0
	for _, r := range rs {
		sum += r
	}
	return fmt.Sprintf("%.2f / %.2f", slices.Min(rs), sum/float64(len(rs)))
}

func hasTesseract() bool {
	_, err := exec.LookPath("tesseract")
	return err == nil
}

// errDetail is the response body apiJobs.submit puts after the status.
func errDetail(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' {
			return s[i:]
		}
	}
	return ""
}
