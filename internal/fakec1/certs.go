package fakec1

import (
	"sync"

	"github.com/baton-runner/baton-runner/internal/localca"
)

// sharedCA signs the server certificates of every Server in this process.
//
// It is shared on purpose: Go reads SSL_CERT_FILE once per process (the system
// root pool is built behind a sync.Once on first verification), so a second
// Server with its own CA would be untrusted by any in-process client that
// already loaded the first CA. With one CA per process, every Server's
// certificate verifies against whichever CAFile was loaded first.
var sharedCA = sync.OnceValues(func() (*localca.CA, error) { return localca.New("baton-runner fakec1 test CA") })

// serverHosts are the names a client dials when BATON_C1_API_HOST points
// at the fake.
var serverHosts = []string{"localhost", "127.0.0.1", "::1"}
