package render

import "github.com/faxd/faxd/t38/bilevel"

// tiffDocument is filled in when t38/tiff lands.
func tiffDocument(data []byte, opt Options) ([]*bilevel.Image, error) {
	return nil, newError(KindTIFF, ErrRenderer, "TIFF input is not available yet")
}
