//! [`Input`]: the tokens a method sees, as the `hico compress` contract lays them out.

use crate::{CompressError, Result};

/// Visual tokens of one video with what a method may need beside them.
///
/// `tokens` is `[t, n, c]` row-major: `t` frames in time order, `n` tokens per frame (row-major
/// over an `h × w` grid when the frame is a grid), `c` channels. A token's *flat index* is
/// `frame · n + position`.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// `[t, n, c]` features.
    pub tokens: &'a [f32],
    /// Frames.
    pub t: usize,
    /// Tokens per frame.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// `[q, c]` question-token embeddings (query-aware methods), as `(data, q)`.
    pub query: Option<(&'a [f32], usize)>,
    /// `[t, n]` attention each token receives in the encoder's last layer.
    pub attention: Option<&'a [f32]>,
    /// Whether the `n` tokens of a frame are a row-major spatial grid (false after a
    /// compressor that breaks the layout, e.g. ToMe).
    pub is_grid: bool,
}

impl<'a> Input<'a> {
    /// Wrap `[t, n, c]` tokens, checking the length; no query, no attention, a grid.
    pub fn new(tokens: &'a [f32], t: usize, n: usize, c: usize) -> Result<Self> {
        if tokens.len() != t * n * c {
            return Err(CompressError::Input {
                method: "input",
                msg: format!(
                    "`tokens` holds {} values, not t·n·c = {t}·{n}·{c}",
                    tokens.len()
                ),
            });
        }
        Ok(Self {
            tokens,
            t,
            n,
            c,
            query: None,
            attention: None,
            is_grid: true,
        })
    }

    /// Total tokens `t · n`.
    pub fn len(&self) -> usize {
        self.t * self.n
    }

    /// Whether there is no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Features of the token with flat index `i`.
    pub fn token(&self, i: usize) -> &'a [f32] {
        &self.tokens[i * self.c..(i + 1) * self.c]
    }

    /// Features of frame `f`, `[n, c]`.
    pub fn frame(&self, f: usize) -> &'a [f32] {
        &self.tokens[f * self.n * self.c..(f + 1) * self.n * self.c]
    }

    /// The side `s` of a square `s × s` frame grid, or an error naming `method`.
    pub fn square_side(&self, method: &'static str) -> Result<usize> {
        let s = (self.n as f64).sqrt().round() as usize;
        if !self.is_grid || s * s != self.n {
            return Err(CompressError::Input {
                method,
                msg: format!(
                    "needs each frame's tokens as a square row-major grid; got n = {} tokens per \
                     frame{}",
                    self.n,
                    if self.is_grid {
                        " (not a square)"
                    } else {
                        " after a compressor that breaks the grid"
                    }
                ),
            });
        }
        Ok(s)
    }

    /// The `[q, c]` query, or an error naming `method`.
    pub fn require_query(&self, method: &'static str) -> Result<(&'a [f32], usize)> {
        match self.query {
            Some((q, rows)) if rows > 0 => Ok((q, rows)),
            _ => Err(CompressError::Input {
                method,
                msg: "needs `query` [Q, C] (the question's token embeddings)".into(),
            }),
        }
    }

    /// The `[t, n]` attention, or an error naming `method`.
    pub fn require_attention(&self, method: &'static str) -> Result<&'a [f32]> {
        self.attention.ok_or_else(|| CompressError::Input {
            method,
            msg: "needs `attention` [T, N] (the attention each token receives in the encoder's \
                  last layer)"
                .into(),
        })
    }
}
