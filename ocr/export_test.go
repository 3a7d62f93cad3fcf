package ocr

import "image"

// BlankStats exposes the blank check's findings to the tests, which log
// them so that the margin of each fixture over the thresholds is visible.
type BlankStats = blankStats

// AnalyseBlank is analyseBlank, for the tests.
func AnalyseBlank(img image.Image, dpi int) BlankStats { return analyseBlank(img, dpi) }

// Blank reports the verdict of s.
func (s blankStats) Blank() bool { return s.blank() }

// Marks is how many marks the check found, and Largest the largest one's
// size in blocks.
func (s blankStats) Marks() (marks, largest int) { return s.marks, s.largest }
