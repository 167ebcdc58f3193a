package api

import (
	"fmt"
	"os"
	"text/template"
	"time"

	"github.com/faxd/faxd/internal/render"
)

// Config is the api section of faxd's configuration. The listen address
// is http.listen: the API shares the HTTP server with metrics and health.
type Config struct {
	// MaxUploadBytes bounds a whole submission request; larger ones get
	// 413.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// MaxDocuments bounds the document parts of one submission.
	MaxDocuments int `yaml:"max_documents"`
	// MaxPages bounds the pages of one fax, all documents together.
	MaxPages int `yaml:"max_pages"`
	// DocumentMaxBytes bounds one stored document (a source or the
	// prepared pages).
	DocumentMaxBytes int64 `yaml:"document_max_bytes"`
	// Resolution is the default fax resolution: standard, fine or
	// superfine; a submission may ask for another.
	Resolution string `yaml:"resolution"`
	// PageSize is the paper documents are fitted to: a4 or letter.
	PageSize string `yaml:"page_size"`
	// RenderTimeout bounds the rendering of one document.
	RenderTimeout time.Duration `yaml:"render_timeout"`
	// RenderConcurrency is how many documents this server renders at
	// once; further submissions wait.
	RenderConcurrency int `yaml:"render_concurrency"`
	// RateLimit is each token's sustained request rate per second;
	// RateBurst how many requests it may make at once.
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
	// MaxImagePixels and MaxImageBytes bound one decoded picture or TIFF
	// page: width x height, and width x height x bytes per pixel (a 16-bit
	// RGBA pixel is 8), both read from the header before decoding.
	MaxImagePixels int64 `yaml:"max_image_pixels"`
	MaxImageBytes  int64 `yaml:"max_image_bytes"`
	// CoverTemplate is a text/template file for cover pages (a submission
	// with a "cover" object gets one); empty uses the built-in layout.
	CoverTemplate string `yaml:"cover_template"`
	// URLFetchTimeout bounds the fetch of one document given by URL in a
	// JSON submission.
	URLFetchTimeout time.Duration `yaml:"url_fetch_timeout"`
	// OfficeCommand is the LibreOffice program (soffice) that renders
	// DOCX, ODT, XLSX, RTF and HTML documents; without it such documents
	// get 415. Empty: soffice from PATH.
	OfficeCommand string `yaml:"office_command"`
	// MaxBroadcastRecipients bounds the recipients of one broadcast.
	MaxBroadcastRecipients int `yaml:"max_broadcast_recipients"`
}

// Defaults returns the documented defaults.
func Defaults() Config {
	return Config{
		MaxUploadBytes:    64 << 20,
		MaxDocuments:      20,
		MaxPages:          render.DefaultMaxPages,
		DocumentMaxBytes:  64 << 20,
		Resolution:        "fine",
		PageSize:          "a4",
		RenderTimeout:     2 * time.Minute,
		RenderConcurrency: 2,
		RateLimit:         10,
		RateBurst:         20,
		MaxImagePixels:    render.DefaultMaxPixels,
		MaxImageBytes:     render.DefaultMaxImage,
		URLFetchTimeout:   30 * time.Second,
		OfficeCommand:     "soffice",

		MaxBroadcastRecipients: 1000,
	}
}

// Validate names every bad key, under the api. prefix.
func (c Config) Validate() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("api.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.MaxUploadBytes < 1024 {
		bad("max_upload_bytes", "%d: must be at least 1024", c.MaxUploadBytes)
	}
	if c.MaxDocuments < 1 || c.MaxDocuments > 1000 {
		bad("max_documents", "%d: must be from 1 to 1000", c.MaxDocuments)
	}
	if c.MaxPages < 1 || c.MaxPages > 10000 {
		bad("max_pages", "%d: must be from 1 to 10000", c.MaxPages)
	}
	if c.DocumentMaxBytes < 1024 {
		bad("document_max_bytes", "%d: must be at least 1024", c.DocumentMaxBytes)
	}
	if _, ok := resolutions[c.Resolution]; !ok {
		bad("resolution", "%q: must be standard, fine or superfine", c.Resolution)
	}
	if _, ok := pageSizes[c.PageSize]; !ok {
		bad("page_size", "%q: must be a4 or letter", c.PageSize)
	}
	if c.RenderTimeout < time.Second {
		bad("render_timeout", "%v: must be at least 1s", c.RenderTimeout)
	}
	if c.RenderConcurrency < 1 || c.RenderConcurrency > 256 {
		bad("render_concurrency", "%d: must be from 1 to 256", c.RenderConcurrency)
	}
	if c.RateLimit <= 0 {
		bad("rate_limit", "%v: must be positive (requests per second per token)", c.RateLimit)
	}
	if c.RateBurst < 1 {
		bad("rate_burst", "%d: must be at least 1", c.RateBurst)
	}
	if c.MaxImagePixels < 1<<20 {
		bad("max_image_pixels", "%d: must be at least 1048576", c.MaxImagePixels)
	}
	if c.MaxImageBytes < 1<<20 {
		bad("max_image_bytes", "%d: must be at least 1048576", c.MaxImageBytes)
	}
	if c.URLFetchTimeout < time.Second || c.URLFetchTimeout > 10*time.Minute {
		bad("url_fetch_timeout", "%v: must be from 1s to 10m", c.URLFetchTimeout)
	}
	if c.MaxBroadcastRecipients < 1 || c.MaxBroadcastRecipients > 100000 {
		bad("max_broadcast_recipients", "%d: must be from 1 to 100000", c.MaxBroadcastRecipients)
	}
	if c.CoverTemplate != "" {
		if _, err := c.coverTemplate(); err != nil {
			bad("cover_template", "%v", err)
		}
	}
	return errs
}

// coverTemplate reads and parses CoverTemplate; nil means the built-in one.
func (c Config) coverTemplate() (*template.Template, error) {
	if c.CoverTemplate == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.CoverTemplate)
	if err != nil {
		return nil, err
	}
	return render.ParseCoverTemplate(string(b))
}

var resolutions = map[string]render.Resolution{
	"standard": render.Standard, "fine": render.Fine, "superfine": render.Superfine,
}

var pageSizes = map[string]render.PageSize{"a4": render.A4, "letter": render.Letter}
