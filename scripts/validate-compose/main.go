// Validates a Compose file the way `docker compose config` does (compose-go: the Compose
// Specification's schema, interpolation and model checks, undefined services in depends_on
// included), for machines without Docker, every profile enabled. With --json it prints the resolved project as
// `docker compose config --format json` would, for the suite's checks of what it runs.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	args := os.Args[1:]
	asJSON := len(args) == 2 && args[0] == "--json"
	if asJSON {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: validate-compose [--json] <docker-compose.yml>")
		os.Exit(2)
	}
	file, _ := filepath.Abs(args[0])
	options, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithOsEnv, cli.WithDotEnv, cli.WithName("bulkport"), cli.WithProfiles([]string{"*"}))
	if err == nil {
		p, loadErr := options.LoadProject(context.Background())
		if loadErr == nil {
			if !asJSON {
				fmt.Printf("valid: services %v\n", p.ServiceNames())
				return
			}
			out, jsonErr := p.MarshalJSON()
			if jsonErr == nil {
				fmt.Println(string(out))
				return
			}
			loadErr = jsonErr
		}
		err = loadErr
	}
	fmt.Fprintf(os.Stderr, "invalid: %v\n", err)
	os.Exit(1)
}
