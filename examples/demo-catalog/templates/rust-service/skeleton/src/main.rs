//! ${{ values.name }}: ${{ values.description }}

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "${{ values.port }}".to_string());
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    println!("${{ values.name }} listening on http://127.0.0.1:{port}");
    for stream in listener.incoming() {
        let mut stream = stream?;
        let mut request_line = String::new();
        BufReader::new(&stream).read_line(&mut request_line)?;
        let body = if request_line.starts_with("GET /healthz ") {
            "ok"
        } else {
            "hello from ${{ values.name }}"
        };
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )?;
    }
    Ok(())
}
