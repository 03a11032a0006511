package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStats reads a process's CPU time and memory from /proc; every
// reading is -1 when the process is unknown (pid 0) or gone.
type procStats struct{ pid int }

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 100

// cpu returns user plus system time used so far.
func (p procStats) cpu() time.Duration {
	if p.pid == 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces): state is 3rd,
	// utime 14th and stime 15th of the whole line.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

func (p procStats) rss() int64     { return p.status("VmRSS:") }
func (p procStats) peakRSS() int64 { return p.status("VmHWM:") }

func (p procStats) status(key string) int64 {
	if p.pid == 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}
