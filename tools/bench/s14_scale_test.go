package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/tools/testdocs"
)

// Scenario 14's documents: a scanned PDF has the pages asked for, each
// expecting the marker of the image it shows, and two variants differ in
// their bytes (documents are stored by content and cached by document, so
// equal bytes would make the second a cache hit); the text-layer PDF's
// pages read back as their markers.
func TestScaleDocuments(t *testing.T) {
	for _, tool := range []string{"pdfinfo", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH", tool)
		}
	}
	dir := t.TempDir()
	a, err := scaleScannedDoc(dir, "a", scaleImages+3)
	require.NoError(t, err)
	b, err := scaleScannedDoc(dir, "b", scaleImages+3)
	require.NoError(t, err)
	require.NotEqual(t, a.pdf, b.pdf)
	require.Len(t, a.pages, scaleImages+3)
	require.Equal(t, a.pages[0].marker, a.pages[scaleImages].marker, "the images repeat")
	require.NotEqual(t, a.pages[0].marker, a.pages[1].marker)
	info, err := exec.Command("pdfinfo", a.path).Output()
	require.NoError(t, err)
	require.Regexp(t, fmt.Sprintf(`(?m)^Pages:\s+%d$`, scaleImages+3), string(info))

	text, err := scaleTextDoc(40)
	require.NoError(t, err)
	path := filepath.Join(dir, "text.pdf")
	require.NoError(t, os.WriteFile(path, text.pdf, 0o644))
	for _, n := range []int{1, 17, 40} {
		out, err := exec.Command("pdftotext", "-f", fmt.Sprint(n), "-l", fmt.Sprint(n), path, "-").Output()
		require.NoError(t, err)
		_, err = checkPageText(text.pages[n-1], string(out))
		require.NoError(t, err, "page %d", n)
	}
}

// The counting tesseract counts recognitions (output to stdout) and
// nothing else, and passes the real one's output through.
func TestCountingTesseract(t *testing.T) {
	real, err := exec.LookPath("tesseract")
	if err != nil {
		t.Skip("tesseract is not on PATH")
	}
	dir := t.TempDir()
	wrapper, count := filepath.Join(dir, "tesseract"), filepath.Join(dir, "runs")
	require.NoError(t, os.WriteFile(wrapper, fmt.Appendf(nil, countingTesseract, real), 0o755))
	lines := []string{"Counting test, marker word " + ocrMarkers[2] + "."}
	png, err := testdocs.PNG(lines, ocrPX)
	require.NoError(t, err)
	img := filepath.Join(dir, "page.png")
	require.NoError(t, os.WriteFile(img, png, 0o644))
	env := append(os.Environ(), "BENCH_TESSERACT_COUNT="+count)
	runs := func() int {
		b, _ := os.ReadFile(count)
		return bytes.Count(b, []byte("\n"))
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--version"}, 0},
		{[]string{"--list-langs"}, 0},
		{[]string{img, "stdout", "-l", "eng"}, 1},
		{[]string{img, "stdout", "-l", "eng", "--dpi", "300"}, 2},
	} {
		cmd := exec.Command(wrapper, c.args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Equal(t, c.want, runs(), "after tesseract %s", strings.Join(c.args, " "))
		if c.want > 0 {
			require.Contains(t, strings.ToLower(string(out)), ocrMarkers[2])
		}
	}
}
