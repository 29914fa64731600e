//! What a command prints: text for people, or JSON with `--json`.

use serde_json::Value;

/// A command's result in both forms.
#[derive(Debug)]
pub(crate) struct Output {
    /// For people.
    pub(crate) text: String,
    /// For scripts (`--json`).
    pub(crate) json: Value,
}

impl Output {
    /// Both forms.
    pub(crate) fn new(text: impl Into<String>, json: Value) -> Self {
        Self {
            text: text.into(),
            json,
        }
    }

    /// Prints the chosen form on standard output.
    pub(crate) fn print(&self, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&self.json).unwrap_or_default()
            );
        } else {
            print!("{}", self.text);
            if !self.text.is_empty() && !self.text.ends_with('\n') {
                println!();
            }
        }
    }
}
