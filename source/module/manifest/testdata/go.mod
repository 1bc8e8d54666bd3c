module github.com/ami-orchestrator/example

go 1.26

require (
	github.com/google/uuid v1.6.0
	golang.org/x/sync v0.25.0
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace golang.org/x/sync => ../sync
