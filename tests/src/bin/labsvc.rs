//! The lab's "internet" service and its client.
//!
//! `labsvc serve ADDR:PORT...` answers every TCP connection and every UDP
//! datagram with the source address it saw, one line, so a test can prove
//! that masquerade happened. It prints `ready` once every socket is bound.
//! `labsvc ask tcp|udp ADDR:PORT` prints the answer it gets.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

fn serve(addrs: &[SocketAddr]) -> anyhow::Result<()> {
    let mut threads = Vec::new();
    for addr in addrs {
        let tcp = TcpListener::bind(addr)?;
        let udp = UdpSocket::bind(addr)?;
        threads.push(std::thread::spawn(move || {
            for mut stream in tcp.incoming().flatten() {
                if let Ok(peer) = stream.peer_addr() {
                    let _ = writeln!(stream, "{}", peer.ip());
                }
            }
        }));
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((_, peer)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(format!("{}\n", peer.ip()).as_bytes(), peer);
            }
        }));
    }
    println!("ready");
    std::io::stdout().flush()?;
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn ask(proto: &str, addr: SocketAddr) -> anyhow::Result<String> {
    let timeout = Some(Duration::from_secs(3));
    let mut line = String::new();
    match proto {
        "tcp" => {
            let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
            stream.set_read_timeout(timeout)?;
            BufReader::new(stream).read_line(&mut line)?;
        }
        "udp" => {
            let any: SocketAddr = if addr.is_ipv4() {
                "0.0.0.0:0".parse()?
            } else {
                "[::]:0".parse()?
            };
            let sock = UdpSocket::bind(any)?;
            sock.set_read_timeout(timeout)?;
            sock.connect(addr)?;
            sock.send(b"who am i\n")?;
            let mut buf = [0u8; 512];
            let n = sock.recv(&mut buf)?;
            line = String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        other => anyhow::bail!("unknown protocol {other}"),
    }
    Ok(line.trim().to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            let addrs = args[1..]
                .iter()
                .map(|a| a.parse())
                .collect::<Result<Vec<SocketAddr>, _>>()?;
            serve(&addrs)
        }
        Some("ask") if args.len() == 3 => {
            println!("{}", ask(&args[1], args[2].parse()?)?);
            Ok(())
        }
        _ => anyhow::bail!("usage: labsvc serve ADDR:PORT... | labsvc ask tcp|udp ADDR:PORT"),
    }
}
