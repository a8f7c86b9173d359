// peer.rs - the Rust contender for bench/: a long-running helper process driven by the C harness,
// measuring inside Rust with std::process::Command (no crates), as a Rust program that spawns
// many children would.
//
//     peer_rust spawn SIZE_MIB      Command::new("/bin/true").status() from a process holding SIZE_MIB
//     peer_rust capture GEN BYTES   Command::new(GEN).arg(BYTES).output()
//     peer_rust echo                Command::new("/bin/echo").arg("hi").output()
//
// It prints "ready" once set up, then answers each "go" line with the nanoseconds one run took,
// or with "error: why". EOF ends it. Same protocol as peer.py.
use std::io::{self, BufRead, Write};
use std::process::Command;
use std::time::Instant;

fn payload_ok(b: &[u8]) -> bool {
    let n = b.len();
    let mut i = 0;
    while i < n {
        if b[i] != b'a' + (i % 26) as u8 {
            return false;
        }
        i += 4093;
    }
    n == 0 || b[n - 1] == b'a' + ((n - 1) % 26) as u8
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_default();
    let mut ballast: Vec<u8> = Vec::new();
    if mode == "spawn" {
        let mib: usize = args[2].parse().unwrap_or(0);
        ballast = vec![0x5a; mib << 20]; // written byte by byte: every page touched
    }
    let out = io::stdout();
    let mut out = out.lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for line in io::stdin().lock().lines() {
        if line.map(|l| l != "go").unwrap_or(true) {
            break;
        }
        let t0 = Instant::now();
        let res: Result<bool, String> = match mode.as_str() {
            "spawn" => Command::new("/bin/true").status().map(|s| s.success()).map_err(|e| e.to_string()),
            "capture" => {
                let want: usize = args[3].parse().unwrap_or(0);
                Command::new(&args[2]).arg(&args[3]).output()
                    .map(|o| o.status.success() && o.stdout.len() == want && payload_ok(&o.stdout))
                    .map_err(|e| e.to_string())
            }
            "echo" => Command::new("/bin/echo").arg("hi").output()
                .map(|o| o.status.success() && o.stdout == b"hi\n")
                .map_err(|e| e.to_string()),
            _ => Err(format!("unknown mode {}", mode)),
        };
        let dt = t0.elapsed().as_nanos();
        match res {
            Ok(true) => writeln!(out, "{}", dt).unwrap(),
            Ok(false) => writeln!(out, "error: wrong result").unwrap(),
            Err(e) => writeln!(out, "error: {}", e).unwrap(),
        }
        out.flush().unwrap();
    }
    drop(ballast);
}
