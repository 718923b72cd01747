//! A request's pipelines as gst-launch-1.0 lines (`pythumbio check --render`), so a GStreamer
//! user can run what the service runs: the description filled, and the values the service sets
//! after parsing written in as properties.

use super::params::{Bound, ServiceTarget, Setting, Time};
use super::template::TemplateError;
use super::{Endpoint, Spec};

impl Endpoint {
    /// `gst-launch-1.0 ...` for each pipeline the request runs, as a shell line: the description,
    /// and a storyboard's sheet. None for the Discoverer.
    pub fn launch_lines(&self, bound: &Bound) -> Result<Vec<String>, TemplateError> {
        if matches!(self.spec, Spec::Discover) {
            return Ok(Vec::new());
        }
        let settings = bound.settings_as_given();
        let mut lines = vec![with_settings(&self.render(bound)?, &settings)];
        if self.layout(bound).is_none() {
            if let Some(sheet) = self.render_sheet(bound).transpose()? {
                lines.push(with_settings(&sheet, &[]));
            }
        }
        Ok(lines
            .iter()
            .map(|l| format!("gst-launch-1.0 {l}"))
            .collect())
    }

    /// What the service does around the pipeline for this request, in words.
    pub fn notes(&self, bound: &Bound) -> Vec<String> {
        let mut notes = Vec::new();
        notes.push(
            "the service reads the url through its own source element, under its source policy"
                .to_string(),
        );
        if let Spec::Still { start, .. } = &self.spec {
            let accurate = bound.seek.accurate.unwrap_or(true);
            notes.push(format!(
                "pauses, seeks to {} ({}) and takes the frame that reaches the sink",
                bound.seek.start.unwrap_or(Time::Seconds(*start)),
                if accurate {
                    "that frame exactly"
                } else {
                    "the keyframe at or before it"
                }
            ));
        }
        if bound.seek.needs_duration() {
            notes.push("reads the source's duration first, to place the shares of it".into());
        }
        if let (Some(start), false) = (bound.seek.start, matches!(self.spec, Spec::Still { .. })) {
            notes.push(format!("seeks to {start} before anything flows"));
        }
        if let Some(duration) = bound.seek.duration {
            notes.push(format!("ends the output after {duration} of source"));
        }
        let rate = self.rate(bound);
        if rate != 1.0 {
            notes.push(format!(
                "plays the source {rate} times faster (timestamps divided by {rate})"
            ));
        }
        if let Spec::Storyboard { .. } = &self.spec {
            let n = |t| bound.number(t).unwrap_or(1.0);
            notes.push(format!(
                "takes a tile every {} s (at most {} tiles, {} per row) and lays them out",
                n(ServiceTarget::StoryboardInterval),
                n(ServiceTarget::StoryboardMaxTiles),
                n(ServiceTarget::StoryboardColumns)
            ));
            if let Some(rows) = bound.number(ServiceTarget::StoryboardRows) {
                notes.push(format!(
                    "puts at most {rows} rows on a sheet, more on further sheets; decodes only sheet {}'s tiles",
                    bound.number(ServiceTarget::StoryboardSheet).unwrap_or(0.0)
                ));
            }
        }
        if let Some(assembler) = self.assembler(bound) {
            notes.push(format!(
                "collects every buffer and assembles them ({assembler})"
            ));
        }
        notes
    }
}

/// The description's words as shell words, each setting written after its element's `name=`.
/// gst-launch-1.0 takes one pipeline word per argument (it escapes what an argument holds), so
/// a word is quoted for the shell only, and only when the shell would read it otherwise.
fn with_settings(description: &str, settings: &[Setting]) -> String {
    let mut words: Vec<String> = description.split_whitespace().map(str::to_string).collect();
    for setting in settings {
        let name = format!("name={}", setting.element);
        if let Some(at) = words.iter().position(|w| *w == name) {
            words.insert(
                at + 1,
                format!("{}={}", setting.property, setting.property_text()),
            );
        }
    }
    let words: Vec<String> = words.iter().map(|w| shell_word(w)).collect();
    words.join(" ")
}

/// `word` as the shell reads it: as it is when it is plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=.,/:!@%".contains(c);
    match word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_their_element_and_the_line_pastes() {
        let settings = [Setting::text("src", "uri", "http://h/a b?x=1&y='2'")];
        let line = with_settings(
            "uridecodebin name=src\nsrc. ! video/x-raw,width=[1,4] ! fakesink",
            &settings,
        );
        assert_eq!(
            line,
            "uridecodebin name=src 'uri=http://h/a b?x=1&y='\\''2'\\''' src. ! 'video/x-raw,width=[1,4]' ! fakesink"
        );
    }
}
