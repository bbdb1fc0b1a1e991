package follow_test

import (
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
)

func TestMain(m *testing.M) { acctest.Main(m) }
