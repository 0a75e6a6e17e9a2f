//! A guard run before the HCL parser on config sources (consul's and consul-template's).

/// Deepest bracket nesting an HCL source may have. The HCL parser (hcl-edit) recurses per level
/// and backtracks: a few thousand levels overflow the stack and abort the process, and some
/// unclosed nestings take time doubling per level (`a = [{ a.0 [{ a.0 …`: 4 s at 48 brackets,
/// found by `fuzz/`). Go's parser has neither problem, but configs nest a handful of levels.
pub const MAX_HCL_NESTING: usize = 32;

/// Whether `text` opens more than [`MAX_HCL_NESTING`] brackets (`[`, `{`, `(`) without closing
/// them. Brackets inside strings and comments count too: only a source with dozens of
/// unclosed ones there is refused wrongly.
pub fn nests_too_deep(text: &str) -> bool {
    let mut depth = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' | b'(' => {
                depth += 1;
                if depth > MAX_HCL_NESTING {
                    return true;
                }
            }
            b']' | b'}' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}
