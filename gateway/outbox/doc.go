// Package outbox owns what a socket has yet to be sent: one Box per
// socket, a queue of frames bounded in bytes, and whoever writes it; and
// the Router, the routing goroutine's side of all the boxes, which decides
// what happens when a socket falls behind (the slow-consumer policy) and
// writes the sockets a routing pass filled.
//
// # Goroutines
//
//   - The router (the gateway's Hub.Run) calls Router.Deliver under the
//     hub's lock, which never waits, then Router.Flush after it: Flush
//     has the boxes the pass filled from empty written without waiting for
//     any client, by the helpers Router.Start started (one per CPU, stopped
//     by Router.Stop; a handful the router writes itself), and waits,
//     bounded, for boxes that were full.
//   - A box's writer goroutine (drain) is started when a frame is queued
//     for a box nobody writes (Enqueue: replies, broadcasts, presence) or
//     when a routed write could not send everything; it lingers
//     writerLinger after its queue runs dry, then ends.
//
// Whoever writes a box holds its claim (Box.writing), never two at once,
// so frames keep their order. Box.mu guards the queue, the claim and the
// closing state; it is the innermost lock: code holding it takes no other
// (the transport's own write lock aside). Box.Finish waits for the writers
// and for the router's claims on the box.
package outbox
