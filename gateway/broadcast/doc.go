// Package broadcast handles user broadcasts, the messages a room's members
// send each other from a socket, the HTTP API or another gateway: it checks
// a client's push and renders a room message, once per kind of socket, into
// the frames the room's members receive.
//
// It knows nothing of rooms' members: the gateway's hub picks who gets a
// broadcast and asks Frames for each one's frame.
//
// # Concurrency
//
// Everything here is a pure function of its arguments, except Frames,
// which renders lazily and so belongs to one goroutine: the hub makes one
// per delivery, under its read lock, and drops it once the room's members
// are served.
package broadcast
