package wsconn

import (
	"syscall"
	"unsafe"
)

// peekable reports whether a read on fd would not block: a byte is waiting,
// or the peer closed, or the socket failed (the read that follows says
// which). MSG_PEEK leaves the byte for that read.
func peekable(fd uintptr) bool {
	var b [1]byte
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return errno != syscall.EAGAIN && errno != syscall.EINTR
}

// writeNonBlocking writes b to the non-blocking socket fd once: it
// returns how much the kernel took (0 when its buffer is full).
func writeNonBlocking(fd int, b []byte) (int, error) {
	n, err := syscall.Write(fd, b)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return 0, nil
	}
	return max(n, 0), err
}
