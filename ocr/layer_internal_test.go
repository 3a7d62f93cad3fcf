package ocr

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCleanTextLayer(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"short title", "Quarterly Report, Spring 2024", true},
		{"one character", "7", true},
		{"accents and layout", "Café  Müller\n\n   Straße 5", true},
		{"blank", " \n\t ", false},
		{"empty", "", false},
		{"a replacement character", "Total \ufffd 1375 euros", false},
		{"a control character", "Total \x01 1375", false},
		{"a few symbol-font bullets", "\uf0b7 first item in the list\n\uf0b7 second item in the list", true},
		{"glyphs all in the private use area", "\ue001\ue002\ue003 \ue004\ue005", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, cleanTextLayer(tt.text))
		})
	}
}

func TestParseImageList(t *testing.T) {
	const heading = "page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size ratio\n" +
		"--------------------------------------------------------------------------------------------\n"
	tests := []struct {
		name    string
		out     string
		want    map[int]int
		wantErr bool
	}{
		{"no images", heading, map[int]int{}, false},
		{"images on pages 2 and 5", heading +
			"   2     0 image    1700  2200  gray    1   8  image  no         5  0   300   300 52.1K 1.4%\n" +
			"   2     1 smask    1700  2200  gray    1   8  image  no         6  0   300   300 1.1K 0.0%\n" +
			"   5     2 image     850  1100  gray    1   8  jpeg   no        11  0   300   300 12.3K 1.3%\n",
			map[int]int{2: 2, 5: 1}, false},
		{"no heading", "   2     0 image 1700 2200\n", nil, true},
		{"empty output", "", nil, true},
		{"row without a page", heading + "  x 0 image\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseImageList(tt.out)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// A tool writing more than its limit is stopped, and the error says why,
// so that ReadTextLayer can fall back to reading page by page.
func TestRunCappedStopsAVerboseTool(t *testing.T) {
	_, err := runCapped(context.Background(), nil, 1<<20, "yes")
	require.ErrorIs(t, err, errOutputTooLarge)
	out, err := runCapped(context.Background(), nil, 1<<20, "printf", strings.Repeat("x", 1000))
	require.NoError(t, err)
	require.Len(t, out, 1000)
}
