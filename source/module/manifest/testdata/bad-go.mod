module example.com/x

go 1.26

require (
	example.com/a v1.0.0
	example.com/b
)
