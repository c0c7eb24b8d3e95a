//! The token layout of one training sequence and its loss targets.
//!
//! ```text
//! [before ids] [visual tokens] [after ids: timestamp + question 1 + assistant header]
//!   [answer 1 + <|im_end|>] [\n<|im_start|>user\n q2 <|im_end|>\n<|im_start|>assistant\n]
//!   [answer 2 + <|im_end|>] …
//! ```
//!
//! `before`/`after` come from the pipeline's prompt (the same as at inference); the loss is
//! on the answer spans only, each answer's tokens plus its `<|im_end|>`. The logit at input
//! position `p` predicts the token at `p + 1`.

use std::ops::Range;

use crate::data::Turn;

/// The text after the visual block and where the answers are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLayout {
    /// Every id after the visual block.
    pub after: Vec<u32>,
    /// Answer spans, as ranges of `after`.
    pub answers: Vec<Range<usize>>,
    /// Turns that fitted in the length budget.
    pub turns: usize,
}

/// Build the text after the visual block: the prompt's `after` ids (first question), then
/// each answer and the following turns, as long as the total stays within `budget` tokens.
/// `None` when even the first answer does not fit.
pub fn layout(
    prompt_after: &[u32],
    turns: &[Turn],
    encode: impl Fn(&str) -> Vec<u32>,
    im_end: u32,
    budget: usize,
) -> Option<TextLayout> {
    let mut after = prompt_after.to_vec();
    let mut answers = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        let mut add = Vec::new();
        if t > 0 {
            add.extend(encode(&format!(
                "\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
                turn.question
            )));
        }
        let start = after.len() + add.len();
        add.extend(encode(&turn.answer));
        add.push(im_end);
        if after.len() + add.len() > budget {
            break;
        }
        after.extend(add);
        answers.push(start..after.len());
    }
    (!answers.is_empty()).then_some(TextLayout {
        turns: answers.len(),
        after,
        answers,
    })
}

impl TextLayout {
    /// `(input position whose logit predicts, target id)` of every answer token, with the
    /// text starting at absolute position `offset` (before + visual).
    pub fn targets(&self, offset: usize) -> Vec<(usize, u32)> {
        self.answers
            .iter()
            .flat_map(|r| r.clone().map(|j| (offset + j - 1, self.after[j])))
            .collect()
    }

    /// Query positions for attention-based visual dropout in training: the token just
    /// before each answer span.
    pub fn queries(&self, offset: usize) -> Vec<usize> {
        self.answers.iter().map(|r| offset + r.start - 1).collect()
    }
}

/// Rows of the output logits for the given input positions, through `kept` (input
/// position of each output row, ascending). `None` names a position that was dropped.
pub fn rows_of(kept: &[usize], positions: &[usize]) -> Result<Vec<usize>, usize> {
    positions
        .iter()
        .map(|p| kept.binary_search(p).map_err(|_| *p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> Vec<u32> {
        s.bytes().map(u32::from).collect()
    }

    fn turns() -> Vec<Turn> {
        vec![
            Turn {
                question: "q1".into(),
                answer: "ab".into(),
            },
            Turn {
                question: "q2".into(),
                answer: "c".into(),
            },
        ]
    }

    #[test]
    fn answers_and_targets_line_up() {
        let l = layout(&[1, 2, 3], &turns(), enc, 999, 1000).unwrap();
        assert_eq!(l.turns, 2);
        assert_eq!(l.answers[0], 3..6);
        assert_eq!(&l.after[3..6], &[97, 98, 999]);
        let r = l.answers[1].clone();
        assert_eq!(&l.after[r.clone()], &[99, 999]);
        let t = l.targets(10);
        assert_eq!(
            t[0],
            (12, 97),
            "logit at the last header token predicts the answer"
        );
        assert_eq!(t.len(), 5);
        assert_eq!(l.queries(10), vec![12, 10 + r.start - 1]);
    }

    #[test]
    fn budget_cuts_later_turns_or_rejects() {
        let l = layout(&[1, 2, 3], &turns(), enc, 999, 8).unwrap();
        assert_eq!(l.turns, 1);
        assert!(layout(&[1, 2, 3], &turns(), enc, 999, 5).is_none());
    }

    #[test]
    fn rows_follow_kept_positions() {
        assert_eq!(rows_of(&[0, 1, 5, 6, 7], &[5, 7]), Ok(vec![2, 4]));
        assert_eq!(rows_of(&[0, 1, 5], &[3]), Err(3));
    }
}
