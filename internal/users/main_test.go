package users

import (
	"testing"

	"github.com/faxd/faxd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
