//go:build !freebsd

package job

func rlimitValue(v uint64) uint64 { return v }
