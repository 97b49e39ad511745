package job

func rlimitValue(v uint64) int64 { return int64(v) }
