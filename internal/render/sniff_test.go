package render

import (
	"bytes"
	"context"
	"errors"
	"image"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/tiff"
)

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		data string
		want Kind
	}{
		{"%PDF-1.7\n...", KindPDF},
		{"\xef\xbb\xbfjunk\x00\x01 %PDF-1.4\n", KindPDF}, // binary junk before the header
		{"see %PDF-1.4 in this text", KindText},          // text that mentions it
		{"%!PS-Adobe-3.0\n", KindPostScript},
		{"\x04%!PS\n", KindPostScript},
		{"\xc5\xd0\xd3\xc6\x00\x00", KindPostScript},
		{"II*\x00\x08\x00\x00\x00", KindTIFF},
		{"MM\x00*\x00\x00\x00\x08", KindTIFF},
		{"\x89PNG\r\n\x1a\n", KindPNG},
		{"\xff\xd8\xff\xe0", KindJPEG},
		{"GIF89a", KindGIF},
		{"GIF87a", KindGIF},
		{"Hello\tworld\r\n\fpage 2 — ünïcødé", KindText},
		{"\xef\xbb\xbfBOM text", KindText},
		{"bad \xff utf-8", KindUnknown},
		{"nul \x00 byte", KindUnknown},
		{"\x1b[31mescape", KindUnknown},
		{"PK\x03\x04 zip", KindUnknown},
		{"", KindUnknown},
	} {
		if got := Sniff([]byte(tc.data)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestDeclaredType(t *testing.T) {
	png := encodeAs(t, KindPNG, lineArt(10, 10, image.Rect(2, 2, 5, 5)))
	for _, tc := range []struct {
		data   []byte
		ct     string
		reason error // nil: accepted
	}{
		{png, "image/png", nil},
		{png, "IMAGE/PNG", nil},
		{png, "", nil},
		{png, "application/octet-stream", nil},
		{png, "image/jpeg", ErrTypeMismatch},
		{png, "application/pdf", ErrTypeMismatch},
		{png, "application/zip", ErrUnknownType},
		{png, "not a / type;;", ErrTypeMismatch},
		{[]byte("hello"), "text/plain; charset=utf-8", nil},
		{[]byte("hello"), "text/plain; charset=iso-8859-1", nil},
		{[]byte("hello"), "text/plain; charset=x-klingon", ErrUnknownType},
		{[]byte("hello"), "image/png", ErrTypeMismatch},
		{[]byte("PK\x03\x04"), "", ErrUnknownType},
		{[]byte("PK\x03\x04"), "application/pdf", ErrUnknownType},
		{nil, "", ErrEmpty},
	} {
		_, err := Bytes(context.Background(), tc.data, tc.ct, Options{})
		if tc.reason == nil {
			if err != nil {
				t.Errorf("%q as %q: %v", tc.data[:min(8, len(tc.data))], tc.ct, err)
			}
			continue
		}
		if !errors.Is(err, tc.reason) {
			t.Errorf("%q as %q: got %v, want %v", tc.data[:min(8, len(tc.data))], tc.ct, err, tc.reason)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Bytes(context.Background(), []byte("hello"), "image/png", Options{})
	want := "text document rejected: declared type does not match the content: declared as image/png but the content is text"
	if err == nil || err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
}

func TestTooLarge(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 1000)
	_, err := Document(context.Background(), bytes.NewReader(data), "", Options{MaxBytes: 999})
	wantReason(t, err, ErrTooLarge)
	if _, err := Document(context.Background(), bytes.NewReader(data), "", Options{MaxBytes: 1000}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

// Sniffing never panics, and whatever it recognises is accepted when
// declared as its own MIME type.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{"%PDF-1.4", "%!PS", "II*\x00", "\x89PNG\r\n\x1a\n", "GIF89a", "\xff\xd8\xff", "text\f", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k := Sniff(data)
		err := checkDeclared(k, k.MIMEType())
		if k == KindUnknown {
			if !errors.Is(err, ErrUnknownType) {
				t.Fatalf("unknown content accepted: %v", err)
			}
		} else if err != nil {
			t.Fatalf("%v content rejected as its own type: %v", k, err)
		}
	})
}

// The picture and TIFF paths never panic on hostile bytes: they render
// 1728-wide pages or return a *render.Error.
func FuzzPicture(f *testing.F) {
	src := lineArt(40, 30, image.Rect(5, 5, 20, 20))
	for _, k := range []Kind{KindPNG, KindJPEG, KindGIF} {
		f.Add(encodeAs(f, k, src))
	}
	f.Add(bombPNG(f, 1<<20, 1<<20))
	small := bilevel.New(64, 20)
	small.SetBlack(3, 3, true)
	for _, c := range []t4.Coding{t4.MH, t4.MR, t4.MMR} {
		var b bytes.Buffer
		if err := tiff.EncodeFax(&b, []*bilevel.Image{small, small}, tiff.FaxOptions{Coding: c}); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	opt := Options{MaxPixels: 1 << 20, Resolution: Standard, MaxPages: 4}
	f.Fuzz(func(t *testing.T, data []byte) {
		k := Sniff(data)
		if k != KindPNG && k != KindJPEG && k != KindGIF && k != KindTIFF {
			return
		}
		pages, err := Bytes(context.Background(), data, "", opt)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *render.Error", err)
			}
			return
		}
		if k != KindTIFF && (len(pages) != 1 || pages[0].Height != PageLines(A4, Standard)) {
			t.Fatalf("%d pages for a picture", len(pages))
		}
		for _, p := range pages {
			if p.Width != PageWidth || p.Height <= 0 || len(p.Pix) != p.Stride*p.Height {
				t.Fatalf("bad page geometry %dx%d", p.Width, p.Height)
			}
		}
	})
}

// Text of any content renders without panicking, within the page limit.
func FuzzText(f *testing.F) {
	f.Add([]byte("hello\tworld\fpage two\r\n"))
	f.Add([]byte("\f\f\f"))
	opt := Options{MaxPages: 5, Resolution: Standard}
	f.Fuzz(func(t *testing.T, data []byte) {
		if Sniff(data) != KindText || len(data) > 4096 {
			return
		}
		pages, err := Bytes(context.Background(), data, "text/plain", opt)
		if err != nil {
			if !errors.Is(err, ErrTooManyPages) {
				t.Fatalf("text rejected: %v", err)
			}
			return
		}
		if len(pages) == 0 || len(pages) > opt.MaxPages {
			t.Fatalf("%d pages", len(pages))
		}
	})
}
