//go:build !linux

package wsconn

// peekable cannot look without reading here: the reader blocks in the
// WebSocket read itself, as before, with a deeper stack while idle.
func peekable(uintptr) bool { return true }

// writeNonBlocking takes nothing here: the socket's writer goroutine
// writes the batch, waiting as it must.
func writeNonBlocking(int, []byte) (int, error) { return 0, nil }
