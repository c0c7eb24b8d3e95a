//! LLaVA-style annotations, as in the reference:
//!
//! ```json
//! [{"video": "clips/a.mp4",
//!   "conversations": [{"from": "human", "value": "<image>\nWhat happens?"},
//!                     {"from": "gpt", "value": "A cat jumps."},
//!                     {"from": "human", "value": "And then?"},
//!                     {"from": "gpt", "value": "It lands."}]}]
//! ```
//!
//! `"image"` items are single frames. The file is a JSON array or JSON lines. The
//! `<image>` placeholder must appear once, in the first human turn: the video goes there
//! (the pipeline's prompt puts it before the question, followed by the timestamp sentence).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{TrainError, error::io};

/// What a sample shows the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// A video file, sampled by the stage's duration rule.
    Video(PathBuf),
    /// An image file, seen as one frame repeated to a clip.
    Image(PathBuf),
}

impl Media {
    /// The file, resolved against the media root.
    pub fn path(&self) -> &Path {
        match self {
            Media::Video(p) | Media::Image(p) => p,
        }
    }
}

/// One question and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The human message (placeholder removed).
    pub question: String,
    /// The gpt message: the tokens the loss is computed on.
    pub answer: String,
}

/// One training sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// 0-based index in the annotation file (named in errors and metrics).
    pub index: usize,
    /// The `id` field when present.
    pub id: Option<String>,
    /// The media, path resolved against the media root.
    pub media: Media,
    /// The conversation, at least one turn.
    pub turns: Vec<Turn>,
}

impl Sample {
    /// A short name for messages: `#index (id) path`.
    pub fn describe(&self) -> String {
        let id = self
            .id
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
        format!("#{}{id} {}", self.index, self.media.path().display())
    }
}

#[derive(Deserialize)]
struct RawSample {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    video: Option<PathBuf>,
    #[serde(default)]
    image: Option<PathBuf>,
    conversations: Vec<RawMessage>,
}

#[derive(Deserialize)]
struct RawMessage {
    from: String,
    value: String,
}

/// The placeholder the video or image replaces.
pub const PLACEHOLDER: &str = "<image>";

/// Read an annotation file (JSON array or JSON lines); media paths are joined to `root`.
pub fn load_annotations(path: &Path, root: &Path) -> Result<Vec<Sample>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    parse_annotations(&text, path, root)
}

/// Parse annotation text (read from `path`, which errors name).
pub fn parse_annotations(text: &str, path: &Path, root: &Path) -> Result<Vec<Sample>, TrainError> {
    let err = |index: usize, message: String| TrainError::Data {
        path: path.to_owned(),
        index,
        message,
    };
    let raws: Vec<(usize, serde_json::Value)> = if text.trim_start().starts_with('[') {
        let all: Vec<serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| err(0, format!("not a JSON array of samples: {e}")))?;
        all.into_iter().enumerate().collect()
    } else {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map(|v| (i, v))
                    .map_err(|e| err(i, format!("invalid JSON line: {e}")))
            })
            .collect::<Result<_, _>>()?
    };
    raws.into_iter()
        .map(|(i, v)| parse_sample(i, v, root).map_err(|m| err(i, m)))
        .collect()
}

fn parse_sample(index: usize, value: serde_json::Value, root: &Path) -> Result<Sample, String> {
    let raw: RawSample = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let media = match (raw.video, raw.image) {
        (Some(v), None) => Media::Video(root.join(v)),
        (None, Some(i)) => Media::Image(root.join(i)),
        (Some(_), Some(_)) => return Err("has both `video` and `image`".into()),
        (None, None) => return Err("has neither `video` nor `image`".into()),
    };
    if raw.conversations.is_empty() || !raw.conversations.len().is_multiple_of(2) {
        return Err(format!(
            "`conversations` must hold human/gpt pairs, got {} messages",
            raw.conversations.len()
        ));
    }
    let mut turns = Vec::new();
    for (t, pair) in raw.conversations.chunks(2).enumerate() {
        let (q, a) = (&pair[0], &pair[1]);
        if q.from != "human" || a.from != "gpt" {
            return Err(format!(
                "conversations[{}..{}]: expected `human` then `gpt`, got `{}` then `{}`",
                2 * t,
                2 * t + 2,
                q.from,
                a.from
            ));
        }
        let n = q.value.matches(PLACEHOLDER).count();
        let expected = usize::from(t == 0);
        if n != expected {
            return Err(format!(
                "conversations[{}]: `{PLACEHOLDER}` must appear once in the first human turn and never after, found {n}",
                2 * t
            ));
        }
        let question = strip_placeholder(&q.value);
        turns.push(Turn {
            question,
            answer: a.value.clone(),
        });
    }
    let id = raw.id.map(|v| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    Ok(Sample {
        index,
        id,
        media,
        turns,
    })
}

/// Remove the placeholder and the newline that follows it (the pipeline's prompt adds its
/// own newline and timestamp sentence after the video).
fn strip_placeholder(text: &str) -> String {
    match text.split_once(PLACEHOLDER) {
        Some((before, after)) => {
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{}", before.trim_end(), after)
        }
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Sample>, TrainError> {
        parse_annotations(text, Path::new("ann.json"), Path::new("/root"))
    }

    #[test]
    fn parses_video_and_image_multi_turn() {
        let s = parse(
            r#"[{"id": 7, "video": "a.mp4", "conversations": [
                {"from": "human", "value": "<image>\nWhat colour?"},
                {"from": "gpt", "value": "red"},
                {"from": "human", "value": "Sure?"},
                {"from": "gpt", "value": "yes"}]},
               {"image": "b.png", "conversations": [
                {"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "x"}]}]"#,
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].media, Media::Video("/root/a.mp4".into()));
        assert_eq!(s[0].id.as_deref(), Some("7"));
        assert_eq!(s[0].turns[0].question, "What colour?");
        assert_eq!(s[0].turns[1].answer, "yes");
        assert_eq!(s[1].media, Media::Image("/root/b.png".into()));
    }

    #[test]
    fn jsonl_is_accepted() {
        let line = r#"{"video": "a.mp4", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]}"#;
        assert_eq!(parse(&format!("{line}\n\n{line}\n")).unwrap().len(), 2);
    }

    #[test]
    fn errors_name_file_sample_and_problem() {
        let e = parse(
            r#"[{"video": "a.mp4", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]},
               {"video": "b.mp4", "conversations": [{"from": "gpt", "value": "A"}, {"from": "human", "value": "<image>Q"}]}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("ann.json: sample 1:"), "{e}");
        assert!(e.contains("expected `human` then `gpt`"), "{e}");
        let e = parse(r#"[{"video": "a.mp4", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`<image>` must appear once"), "{e}");
        let e = parse(r#"[{"conversations": []}]"#).unwrap_err().to_string();
        assert!(e.contains("neither `video` nor `image`"), "{e}");
    }
}
