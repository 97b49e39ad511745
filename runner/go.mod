module github.com/cronium/desktop/runner

go 1.25
