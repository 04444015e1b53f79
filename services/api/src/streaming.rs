//! Sending a file out of a call in pieces, read as the stream is polled, so a large backup
//! or export never sits whole in memory on either side.

use tokio::io::AsyncReadExt;
use tokio_stream::Stream;

/// Bytes per piece: well under the 4 MiB a message may carry.
pub const CHUNK_BYTES: usize = 1 << 20;

/// The file's bytes, from where it stands, in pieces of at most [`CHUNK_BYTES`].
pub fn chunks_of(mut file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Vec<u8>>> + Send {
    async_stream::try_stream! {
        loop {
            let mut piece = Vec::with_capacity(CHUNK_BYTES);
            // `take` bounds the read; a short piece is the end of the file.
            let n = (&mut file).take(CHUNK_BYTES as u64).read_to_end(&mut piece).await?;
            if n == 0 {
                break;
            }
            yield piece;
            if n < CHUNK_BYTES {
                break;
            }
        }
    }
}
