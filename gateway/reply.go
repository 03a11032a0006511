package gateway

// replyError carries a reason text exactly as the original puts it in its
// replies ("Presence track payload must be a map"), capitals included, so
// clients that show it read what they would read from the original.
type replyError struct{ reason string }

func (e *replyError) Error() string { return e.reason }
