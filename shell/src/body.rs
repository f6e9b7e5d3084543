//! Reading an answer's body with a cap: the one way the shell reads what a service sends
//! (fragments, manifests, proxied answers), so no service can make it hold more than the
//! cap for one answer, whatever its `Content-Length` says, chunked or not.

use bytes::{Bytes, BytesMut};

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Longer than the cap (declared or as it came).
    #[error("the answer is larger than {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The connection failed while the body came.
    #[error("reading the body: {0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads at most `max` bytes of a reqwest answer's body ([`read_body_capped`]).
pub async fn read_capped(res: reqwest::Response, max: usize) -> Result<Bytes, BodyError> {
    let length = res.content_length();
    read_body_capped(http::Response::from(res).into_body(), length, max).await
}

/// Reads at most `max` bytes of a body, frame by frame: a longer body is dropped as soon as
/// it passes `max`, whatever `length` (its `Content-Length`) says. A body of one frame is
/// kept as it came, with no copy.
pub async fn read_body_capped<B>(
    mut body: B,
    length: Option<u64>,
    max: usize,
) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    if length.is_some_and(|l| l > max as u64) {
        return Err(BodyError::TooLarge { max });
    }
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.into()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far = first.as_ref().map_or(0, Bytes::len) + rest.len();
        if so_far + data.len() > max {
            return Err(BodyError::TooLarge { max });
        }
        match &first {
            None => first = Some(data),
            Some(head) => {
                if rest.is_empty() {
                    rest.extend_from_slice(head);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        rest.freeze()
    })
}
