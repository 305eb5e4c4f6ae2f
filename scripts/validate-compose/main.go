// Validates a Compose file the way `docker compose config` does (compose-go: the Compose
// Specification's schema, interpolation and model checks), for machines without Docker.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: validate-compose <docker-compose.yml>")
		os.Exit(2)
	}
	file, _ := filepath.Abs(os.Args[1])
	options, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithOsEnv, cli.WithDotEnv, cli.WithName("bulkport"))
	if err == nil {
		var project interface{ ServiceNames() []string }
		p, loadErr := options.LoadProject(context.Background())
		if loadErr == nil {
			project = p
			fmt.Printf("valid: services %v\n", project.ServiceNames())
			return
		}
		err = loadErr
	}
	fmt.Fprintf(os.Stderr, "invalid: %v\n", err)
	os.Exit(1)
}
