package main

import (
	"fmt"

	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/host/localsync"
)

// storageEngineFlag chooses the c1z storage engine as baton's own
// --storage-engine does (same name, same environment variable, same
// values); the default differs: see localsync.DefaultStorageEngine.
func storageEngineFlag() cli.Flag {
	return &cli.StringFlag{Name: "storage-engine", Value: string(localsync.DefaultStorageEngine),
		Usage:   "c1z storage engine of syncs: pebble (baton-sdk's default, less CPU) or sqlite (less memory)",
		EnvVars: []string{"BATON_STORAGE_ENGINE"}}
}

// storageEngine is the engine the command's --storage-engine names,
// checked.
func storageEngine(c *cli.Context) (c1zstore.Engine, error) {
	e, err := localsync.ParseStorageEngine(c.String("storage-engine"))
	if err != nil {
		return "", fmt.Errorf("--storage-engine (BATON_STORAGE_ENGINE): %w", err)
	}
	return e, nil
}
