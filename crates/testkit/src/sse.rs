//! Reading a Server-Sent Events stream in tests (e.g. `reqwest`'s `bytes_stream()`).

use std::pin::Pin;

use futures::{Stream, StreamExt as _};

/// One event: its name (`message` when unnamed) and its data lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>> + Send>>;

/// The events of a byte stream, in order; comment lines (keep-alives) are skipped.
pub struct SseReader {
    chunks: Chunks,
    buffer: String,
}

impl std::fmt::Debug for SseReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseReader")
            .field("buffer", &self.buffer)
            .finish()
    }
}

impl SseReader {
    pub fn new<S, B, E>(bytes: S) -> SseReader
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        SseReader {
            chunks: Box::pin(bytes.map(|chunk| {
                chunk
                    .map(|b| b.as_ref().to_vec())
                    .map_err(|e| e.to_string())
            })),
            buffer: String::new(),
        }
    }

    /// The next event; `None` when the stream ends. Panics on a transport error.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
            }
            let chunk = self
                .chunks
                .next()
                .await?
                .expect("the event stream breaks off");
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {} // comments (keep-alives), ids, retry
        }
    }
    (event.is_some() || !data.is_empty()).then(|| SseEvent {
        event: event.unwrap_or_else(|| "message".to_owned()),
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_split_across_chunks_and_keep_alives_skipped() {
        let chunks: Vec<Result<&[u8], String>> = vec![
            Ok(b":\n\nevent: ready\nda"),
            Ok(b"ta: {\"type\":\"ready\"}\n\n"),
            Ok(b"data: a\ndata: b\n\n"),
        ];
        let mut reader = SseReader::new(futures::stream::iter(chunks));
        let first = reader.next().await.unwrap();
        assert_eq!(first.event, "ready");
        assert_eq!(first.data, "{\"type\":\"ready\"}");
        assert_eq!(reader.next().await.unwrap().data, "a\nb");
        assert_eq!(reader.next().await, None);
    }
}
