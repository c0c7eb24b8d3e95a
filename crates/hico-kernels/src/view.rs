//! Read-only strided views of `f32` buffers: how the kernels read a tensor's storage in place
//! (any start offset, any non-negative strides: transposed, sliced or permuted tensors
//! without a copy).

/// A rank-`N` view: element `[i₀, …, i_{N−1}]` at `offset + Σ iₖ·strides[k]` of `data`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a, const N: usize> {
    /// The whole buffer the view reads from.
    pub data: &'a [f32],
    /// Index of element `[0, …, 0]`.
    pub offset: usize,
    /// Sizes of the dimensions.
    pub shape: [usize; N],
    /// Element strides of the dimensions.
    pub strides: [usize; N],
}

/// A matrix `[rows, cols]` (the linear layers' operands).
pub type Mat<'a> = View<'a, 2>;
/// `[clips, tokens, D]` (the `pool` compressor's input).
pub type View3<'a> = View<'a, 3>;
/// `[B, H, L, d]` (attention's and RoPE's operands).
pub type View4<'a> = View<'a, 4>;

impl<const N: usize> View<'_, N> {
    /// Panics, naming `what`, unless every element the view names lies inside `data`.
    pub fn check(&self, what: &str) {
        let last = self
            .shape
            .iter()
            .zip(&self.strides)
            .map(|(n, s)| n.saturating_sub(1) * s)
            .sum::<usize>();
        let empty = self.shape.contains(&0);
        assert!(
            empty || self.offset + last < self.data.len(),
            "{what}: view {:?} / strides {:?} at {} outside a buffer of {}",
            self.shape,
            self.strides,
            self.offset,
            self.data.len()
        );
    }
}

impl View<'_, 2> {
    /// The transpose (the same buffer, strides swapped).
    pub fn t(self) -> Self {
        Self {
            shape: [self.shape[1], self.shape[0]],
            strides: [self.strides[1], self.strides[0]],
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[2, 3]` row-major over `data`, from `offset`.
    fn mat(data: &[f32], offset: usize) -> Mat<'_> {
        Mat {
            data,
            offset,
            shape: [2, 3],
            strides: [3, 1],
        }
    }

    #[test]
    #[should_panic(expected = "outside a buffer of 6")]
    fn a_view_past_its_buffer_is_refused() {
        mat(&[0.0; 6], 1).check("left");
    }

    #[test]
    fn empty_views_and_transposes_pass() {
        let data = [0.0f32; 6];
        let v = mat(&data, 0);
        v.check("a");
        v.t().check("aᵀ");
        assert_eq!((v.t().shape, v.t().strides), ([3, 2], [1, 3]));
        View { shape: [0, 5], ..v }.check("empty");
    }
}
