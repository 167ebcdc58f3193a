package render

import (
	"archive/zip"
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
	"sync"
	"syscall"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// ErrConverterMissing: the document is of a type this server renders only
// with an external converter (LibreOffice) that is not installed. Not the
// document's fault, but not a server fault either: the submitter can send
// a PDF instead, so the API answers 415 naming the converter.
var ErrConverterMissing = errors.New("converter not installed")

// DefaultOfficeMemoryLimit is the address-space limit of LibreOffice:
// it maps far more than Ghostscript before it reads a byte.
const DefaultOfficeMemoryLimit = 4 << 30

// officeExt is the file name extension LibreOffice picks its import
// filter by (it also looks at the content, but the name must not lie).
var officeExt = map[Kind]string{
	KindDOCX: ".docx", KindXLSX: ".xlsx", KindODT: ".odt", KindODS: ".ods", KindRTF: ".rtf", KindHTML: ".html",
}

// IsOffice reports whether k is rendered through LibreOffice.
func (k Kind) IsOffice() bool { _, ok := officeExt[k]; return ok }

// sniffZip tells the office formats that are ZIP containers apart by
// their entries: ODF names its type in the "mimetype" entry, OOXML has
// word/ or xl/ parts. Only the central directory is read.
func sniffZip(data []byte) Kind {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return KindUnknown
	}
	for i, f := range zr.File {
		if i > 1000 {
			break
		}
		switch f.Name {
		case "word/document.xml":
			return KindDOCX
		case "xl/workbook.xml":
			return KindXLSX
		case "mimetype":
			if f.UncompressedSize64 > 100 {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 100))
			rc.Close()
			switch strings.TrimSpace(string(b)) {
			case "application/vnd.oasis.opendocument.text":
				return KindODT
			case "application/vnd.oasis.opendocument.spreadsheet":
				return KindODS
			}
		}
	}
	return KindUnknown
}

// looksHTML: text that starts (after a BOM and white space) with a
// doctype or html element. Other markup is text unless declared HTML.
func looksHTML(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.TrimLeft(data, " \t\r\n")
	head := strings.ToLower(string(data[:min(len(data), 15)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

var (
	unshareOnce sync.Once
	unshareOK   bool
)

// canUnshare reports whether this host lets an unprivileged process make
// a user and network namespace (unshare -rn): then the converter runs
// with no network at all. Probed once.
func canUnshare() bool {
	unshareOnce.Do(func() {
		p, err := exec.LookPath("unshare")
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		unshareOK = exec.CommandContext(ctx, p, "--user", "--map-root-user", "--net", "true").Run() == nil
	})
	return unshareOK
}

// OfficeAvailable reports whether bin (soffice) can be found, for
// `faxd check`; the error says what is missing.
func OfficeAvailable(bin string) (path string, isolated bool, err error) {
	if bin == "" {
		bin = "soffice"
	}
	path, err = exec.LookPath(bin)
	if err != nil {
		return "", false, fmt.Errorf("LibreOffice (%s) is not installed: DOCX, ODT, XLSX, RTF and HTML documents are refused", bin)
	}
	return path, canUnshare(), nil
}

// office converts a document to PDF with LibreOffice and renders the PDF
// through the Ghostscript path, which applies the page limits.
func office(ctx context.Context, data []byte, kind Kind, opt Options) ([]*bilevel.Image, error) {
	pdf, err := officeToPDF(ctx, data, kind, opt)
	if err != nil {
		return nil, err
	}
	pages, err := ghostscript(ctx, pdf, KindPDF, opt)
	var re *Error
	if errors.As(err, &re) {
		re.Kind = kind // the sender knows the document as what they sent
	}
	return pages, err
}

// officeToPDF runs LibreOffice headless in a sandbox: a private temporary
// directory holding the input, the output and the LibreOffice profile
// (-env:UserInstallation, so concurrent conversions share nothing and no
// state survives), an empty environment (no proxy), no network when the
// host allows an unprivileged network namespace, address-space, CPU-time
// and file-size limits set by prlimit, and its own process group killed as
// a whole when the time limit expires.
func officeToPDF(ctx context.Context, data []byte, kind Kind, opt Options) ([]byte, error) {
	bin, err := exec.LookPath(opt.OfficeBin)
	if err != nil {
		return nil, wrapError(kind, ErrConverterMissing, err,
			"%s documents need LibreOffice (%s = %s), which is not installed on this server; send a PDF instead",
			kind, opt.Names.OfficeCommand, opt.OfficeBin)
	}
	prPath, err := exec.LookPath(opt.PrlimitBin)
	if err != nil {
		return nil, wrapError(kind, ErrRenderer, err, "prlimit (util-linux) is needed to sandbox LibreOffice")
	}
	dir, err := os.MkdirTemp("", "faxd-office-*")
	if err != nil {
		return nil, fmt.Errorf("render: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "input"+officeExt[kind])
	if kind == KindHTML && !bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		// fromCharset made it UTF-8; the BOM makes LibreOffice read it so
		// whatever a meta tag claims.
		data = append([]byte("\xef\xbb\xbf"), data...)
	}
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, fmt.Errorf("render: writing input: %w", err)
	}
	outDir := filepath.Join(dir, "out")

	runCtx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	mem := max(opt.MemoryLimit, DefaultOfficeMemoryLimit)
	args := []string{
		"--as=" + strconv.FormatInt(mem, 10),
		"--cpu=" + strconv.FormatInt(int64(opt.Timeout/time.Second)+2, 10),
		"--core=0",
		"--fsize=" + strconv.FormatInt(256<<20, 10),
		"--",
	}
	if canUnshare() {
		p, _ := exec.LookPath("unshare")
		args = append(args, p, "--user", "--map-root-user", "--net", "--")
	}
	args = append(args, bin,
		"-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		"--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nologo")
	if kind == KindHTML {
		// Writer, not Writer/Web: pages as printed, not one long web page.
		args = append(args, "--infilter=HTML (StarWriter)")
	}
	args = append(args, "--convert-to", "pdf:writer_pdf_Export", "--outdir", outDir, in)
	if kind == KindXLSX || kind == KindODS {
		args[len(args)-4] = "pdf:calc_pdf_Export"
	}
	cmd := exec.CommandContext(runCtx, prPath, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir, "LC_ALL=C.UTF-8", "SAL_USE_VCLPLUGIN=svp"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out limitedBuffer
	out.max = 16 << 10
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	// Whatever LibreOffice left running in its group goes with it.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("render: %w", ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return nil, newError(kind, ErrTimeout, "LibreOffice did not convert it within %s", opt.Timeout)
	}
	pdf, rerr := os.ReadFile(filepath.Join(outDir, "input.pdf"))
	if rerr != nil || len(pdf) == 0 {
		msg := officeMessage(out.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGXCPU {
				return nil, newError(kind, ErrTimeout, "LibreOffice ran out of CPU time")
			}
		}
		return nil, wrapError(kind, ErrCorrupt, err, "LibreOffice could not convert it%s", msg)
	}
	return pdf, nil
}

// officeMessage keeps LibreOffice's own complaint, without paths.
func officeMessage(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Error:") {
			if i := strings.Index(line, "/tmp/"); i >= 0 {
				line = line[:i] + "<input>"
			}
			return " (" + line[:min(len(line), 200)] + ")"
		}
	}
	return ""
}
