package ocr

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Media types Docket accepts.
const (
	MediaPDF  = "application/pdf"
	MediaPNG  = "image/png"
	MediaJPEG = "image/jpeg"
	MediaTIFF = "image/tiff"
)

// SniffLen is how many leading bytes Sniff needs to recognise every type.
const SniffLen = 1024

// pdfHeaderWindow is how far into the file a PDF header may start: readers
// (Acrobat, poppler) accept up to 1 KiB of junk before "%PDF-", and mail or
// scanner software does produce such files.
const pdfHeaderWindow = 1024

var (
	magicPNG    = []byte("\x89PNG\r\n\x1a\n")
	magicJPEG   = []byte{0xFF, 0xD8, 0xFF}
	magicTIFFLE = []byte("II*\x00")
	magicTIFFBE = []byte("MM\x00*")
	magicPDF    = []byte("%PDF-")
)

// Sniff returns the media type of a document from its first bytes (magic
// numbers, not the file name), or "" if it is none of the four. Pass at
// least SniffLen bytes when the file has them.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, magicPNG):
		return MediaPNG
	case bytes.HasPrefix(head, magicJPEG):
		return MediaJPEG
	case bytes.HasPrefix(head, magicTIFFLE), bytes.HasPrefix(head, magicTIFFBE):
		return MediaTIFF
	case bytes.Contains(head[:min(len(head), pdfHeaderWindow)], magicPDF):
		return MediaPDF
	}
	return ""
}

// checkMedia opens path and makes sure its content is mediaType. Beyond
// catching a caller's mix-up this is a safety check: tesseract reads any
// file that is not an image as a list of image paths to open, so nothing
// but a verified image may ever reach it. An empty file is KindEmpty.
func checkMedia(path, mediaType string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open document: %w", err)
	}
	defer f.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("read document: %w", err)
	}
	if n == 0 {
		return docErr(KindEmpty, "the document has no content")
	}
	switch mediaType {
	case MediaPDF, MediaPNG, MediaJPEG, MediaTIFF:
	default:
		return docErr(KindUnreadable, "media type %q is not a PDF, PNG, JPEG or TIFF", mediaType)
	}
	if got := Sniff(head[:n]); got != mediaType {
		return docErr(KindUnreadable, "the document is not a valid %s file", mediaName(mediaType))
	}
	return nil
}

// mediaName is a media type's name for messages.
func mediaName(mediaType string) string {
	switch mediaType {
	case MediaPDF:
		return "PDF"
	case MediaPNG:
		return "PNG"
	case MediaJPEG:
		return "JPEG"
	case MediaTIFF:
		return "TIFF"
	}
	return mediaType
}
