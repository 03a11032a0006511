// Package wsconn owns a client's WebSocket connection below the Phoenix
// protocol: the upgrade (Accept), data frames framed here and written in
// one syscall per batch (a corked connection), writes that never wait for
// the client (WriteNow), the idle read that waits for readability on a
// shallow stack, and the close. coder/websocket still reads frames,
// answers pings and runs the close handshake; this package frames the data
// frames itself because coder/websocket flushes after every message.
//
// # Concurrency
//
// A Conn has one reader (Read, on the socket's reader goroutine) and one
// writer at a time (WriteBatch, WriteNow, Close: whoever holds the
// socket's write claim in the gateway). Interrupt and CloseNow may be
// called from any goroutine. Writes are ordered by the corked
// connection's mutex, so coder/websocket's own control frames (pongs, the
// close frame) never land inside a data frame, and bytes WriteNow could
// not send go out before anything written after them.
package wsconn
