// peer.go - the Go contender for bench/: a long-running helper process driven by the C harness,
// measuring inside Go with os/exec, as a Go program that spawns many children would.
//
//	peer_go spawn SIZE_MIB        exec.Command("/bin/true").Run() from a process holding SIZE_MIB
//	peer_go capture GEN BYTES     exec.Command(GEN, BYTES).Output()
//	peer_go echo                  exec.Command("/bin/echo", "hi").Output()
//
// It prints "ready" once set up, then answers each "go" line with the nanoseconds one run took,
// or with "error: why". EOF ends it. Same protocol as peer.py.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func payloadOK(b []byte) bool {
	n := len(b)
	for i := 0; i < n; i += 4093 {
		if b[i] != byte('a'+i%26) {
			return false
		}
	}
	return n == 0 || b[n-1] == byte('a'+(n-1)%26)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Println("error: usage: peer_go spawn|capture|echo ...")
		os.Exit(2)
	}
	mode := os.Args[1]
	var ballast []byte
	if mode == "spawn" {
		mib, _ := strconv.Atoi(os.Args[2])
		ballast = make([]byte, mib<<20)
		for i := 0; i < len(ballast); i += 4096 {
			ballast[i] = 0x5a
		}
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "go" {
			break
		}
		var ok bool
		var err error
		t0 := time.Now()
		switch mode {
		case "spawn":
			err = exec.Command("/bin/true").Run()
			ok = err == nil
		case "capture":
			var out []byte
			out, err = exec.Command(os.Args[2], os.Args[3]).Output()
			want, _ := strconv.Atoi(os.Args[3])
			ok = err == nil && len(out) == want && payloadOK(out)
		case "echo":
			var out []byte
			out, err = exec.Command("/bin/echo", "hi").Output()
			ok = err == nil && string(out) == "hi\n"
		default:
			fmt.Println("error: unknown mode " + mode)
			os.Exit(2)
		}
		dt := time.Since(t0).Nanoseconds()
		switch {
		case err != nil:
			fmt.Printf("error: %v\n", err)
		case !ok:
			fmt.Println("error: wrong result")
		default:
			fmt.Println(dt)
		}
	}
	ballast = nil
	_ = ballast
}
