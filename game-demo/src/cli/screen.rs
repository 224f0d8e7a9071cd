//! Writes a [`Canvas`] to the terminal: only the rows that changed since the last frame,
//! in one flush, so a frame costs little and never flickers.

use std::io::{self, BufWriter, Stdout, Write};

use crossterm::{
    cursor::MoveTo,
    queue,
    style::{Attribute, Color, Print, ResetColor, SetAttribute, SetForegroundColor},
    terminal::{Clear, ClearType},
};
use game_demo::view::{Canvas, Cell, Tint};

/// The terminal screen and what it shows now.
pub struct Screen {
    out: BufWriter<Stdout>,
    shown: Option<Canvas>,
}

impl Screen {
    /// A screen that will draw everything on its first frame.
    pub fn new() -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 16, io::stdout()),
            shown: None,
        }
    }

    /// Forgets what is shown (after a resize): the next frame is drawn in full.
    pub fn invalidate(&mut self) {
        self.shown = None;
    }

    /// Draws `canvas`, writing only changed rows; returns when the terminal took it all.
    pub fn present(&mut self, canvas: &Canvas) -> io::Result<()> {
        let same_size = self.shown.as_ref().is_some_and(|shown| {
            shown.width() == canvas.width() && shown.height() == canvas.height()
        });
        if !same_size {
            queue!(self.out, ResetColor, Clear(ClearType::All))?;
        }
        for y in 0..canvas.height() {
            let changed = !same_size
                || self
                    .shown
                    .as_ref()
                    .is_some_and(|shown| shown.row(y) != canvas.row(y));
            if changed {
                self.write_row(y, canvas.row(y))?;
            }
        }
        queue!(self.out, ResetColor, SetAttribute(Attribute::Reset))?;
        self.out.flush()?;
        self.shown = Some(canvas.clone());
        Ok(())
    }

    fn write_row(&mut self, y: usize, cells: &[Cell]) -> io::Result<()> {
        queue!(self.out, MoveTo(0, y as u16))?;
        let mut current: Option<Tint> = None;
        for cell in cells {
            if current != Some(cell.tint) {
                self.set_tint(cell.tint)?;
                current = Some(cell.tint);
            }
            queue!(self.out, Print(cell.ch))?;
        }
        Ok(())
    }

    fn set_tint(&mut self, tint: Tint) -> io::Result<()> {
        queue!(self.out, SetAttribute(Attribute::Reset), ResetColor)?;
        let (color, attribute) = style_of(tint);
        if let Some(color) = color {
            queue!(self.out, SetForegroundColor(color))?;
        }
        if let Some(attribute) = attribute {
            queue!(self.out, SetAttribute(attribute))?;
        }
        Ok(())
    }
}

fn style_of(tint: Tint) -> (Option<Color>, Option<Attribute>) {
    match tint {
        Tint::Plain => (None, None),
        Tint::Dim => (Some(Color::DarkGrey), None),
        Tint::Rock => (Some(Color::Grey), None),
        Tint::Ship => (Some(Color::White), Some(Attribute::Bold)),
        Tint::Hot => (Some(Color::Yellow), Some(Attribute::Bold)),
        Tint::Warm => (Some(Color::DarkYellow), None),
        Tint::Bonus => (Some(Color::Green), Some(Attribute::Bold)),
        Tint::Shield => (Some(Color::Cyan), Some(Attribute::Bold)),
        Tint::Alert => (Some(Color::Red), Some(Attribute::Bold)),
        Tint::Bar => (None, Some(Attribute::Reverse)),
    }
}
