package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faxd/faxd/t38/bilevel"
)

// Pages cross between libtiff (in t38peer) and Go as binary PBM files: P4
// rows are packed 1 = black, MSB first, padded to whole octets, which is
// bilevel.Image's layout. So the interop tests read and write TIFF only
// through libtiff, independently of our own TIFF code, and tiffcmp judges.

// ErrPBM is wrapped by ReadPBM for a file that is not a binary PBM.
var ErrPBM = errors.New("interop: not a binary PBM")

// WritePBM writes m as a binary PBM with a "# dpi X Y" comment.
func WritePBM(w io.Writer, m *bilevel.Image) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "P4\n# dpi %d %d\n%d %d\n", m.XDPI, m.YDPI, m.Width, m.Height)
	for y := 0; y < m.Height; y++ {
		if _, err := bw.Write(m.Row(y)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadPBM reads a binary PBM written by WritePBM or t38peer --tiff-to-pbm.
func ReadPBM(r io.Reader) (*bilevel.Image, error) {
	br := bufio.NewReader(r)
	magic, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(magic) != "P4" {
		return nil, ErrPBM
	}
	xdpi, ydpi := bilevel.XDPI, bilevel.YDPIFine
	var w, h int
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("%w: header: %v", ErrPBM, err)
		}
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "dpi" {
			xdpi, _ = strconv.Atoi(f[2])
			ydpi, _ = strconv.Atoi(f[3])
			continue
		}
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: size line %q", ErrPBM, line)
		}
		if w, err = strconv.Atoi(f[0]); err == nil {
			h, err = strconv.Atoi(f[1])
		}
		// A fax page is at most a few MB; the bound keeps a bad header from
		// allocating gigabytes.
		if err != nil || w <= 0 || h <= 0 || w > 1<<15 || h > 1<<16 || (w+7)/8*h > 1<<24 {
			return nil, fmt.Errorf("%w: size %q", ErrPBM, line)
		}
		break
	}
	m := bilevel.New(w, h)
	m.XDPI, m.YDPI = xdpi, ydpi
	if _, err := io.ReadFull(br, m.Pix); err != nil {
		return nil, fmt.Errorf("%w: image data: %v", ErrPBM, err)
	}
	return m, nil
}

// TIFFToPages decodes every page of a TIFF with libtiff (via t38peer).
func TIFFToPages(ctx context.Context, peer, tif string) ([]*bilevel.Image, error) {
	dir, err := os.MkdirTemp("", "t38pbm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	prefix := filepath.Join(dir, "p")
	if out, err := exec.CommandContext(ctx, peer, "--tiff-to-pbm", tif, prefix).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("interop: tiff-to-pbm %s: %w: %s", tif, err, bytes.TrimSpace(out))
	}
	var pages []*bilevel.Image
	for i := 0; ; i++ {
		b, err := os.ReadFile(fmt.Sprintf("%s-%03d.pbm", prefix, i))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		m, err := ReadPBM(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i, err)
		}
		pages = append(pages, m)
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("interop: %s has no pages", tif)
	}
	return pages, nil
}

// PagesToTIFF writes pages as a multi-page T.6 TIFF with libtiff (via t38peer).
func PagesToTIFF(ctx context.Context, peer, tif string, pages []*bilevel.Image) error {
	if len(pages) == 0 {
		return errors.New("interop: no pages to write")
	}
	dir, err := os.MkdirTemp("", "t38pbm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args := []string{"--pbm-to-tiff", tif}
	for i, m := range pages {
		name := filepath.Join(dir, fmt.Sprintf("p-%03d.pbm", i))
		var buf bytes.Buffer
		if err := WritePBM(&buf, m); err != nil {
			return err
		}
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return err
		}
		args = append(args, name)
	}
	if out, err := exec.CommandContext(ctx, peer, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("interop: pbm-to-tiff %s: %w: %s", tif, err, bytes.TrimSpace(out))
	}
	return nil
}
