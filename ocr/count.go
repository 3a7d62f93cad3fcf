package ocr

import "context"

// CountPages returns the number of pages of the document at path (already
// sniffed as mediaType) as cheaply as it can be known, for refusing a
// document that is too long when it is uploaded: pdfinfo for a PDF, the
// chain of page directories for a TIFF, and 1 for a PNG or JPEG, whose
// header is checked but whose pixels are not decoded. Inspect checks more
// (every image decodes) and costs more. A document whose pages cannot be
// counted is a *DocumentError.
func (e *Engine) CountPages(ctx context.Context, path, mediaType string) (int, error) {
	n, err := e.countPages(ctx, path, mediaType)
	return n, wrap(err, "ocr count pages")
}

func (e *Engine) countPages(ctx context.Context, path, mediaType string) (int, error) {
	path, err := absPath(path)
	if err != nil {
		return 0, err
	}
	if err := checkMedia(path, mediaType); err != nil {
		return 0, err
	}
	switch mediaType {
	case MediaPDF:
		info, err := e.pdfInfo(ctx, path, 0)
		if err != nil {
			return 0, err
		}
		return info.pages, nil
	case MediaTIFF:
		tf, err := readTIFF(path)
		if err != nil {
			return 0, err
		}
		return len(tf.pages), nil
	default: // PNG or JPEG, as checkMedia allows nothing else
		if err := e.checkImageSize(path, mediaType); err != nil {
			return 0, err
		}
		return 1, nil
	}
}
