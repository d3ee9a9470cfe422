//! How wide text is in a terminal: the one measure lint's source snippets
//! and the report's tables align with.
//!
//! A leaf (it imports nothing from the crate), so that `lint` and `report`
//! share it without one importing the other.

/// Columns a character takes in a terminal: 0 for control characters,
/// combining marks and zero-width characters, 2 for East Asian wide and
/// full-width characters and most emoji, 1 otherwise.
///
/// This approximates Unicode's East Asian Width property for the scripts
/// found in specs (CJK, kana, hangul, emoji) without a table crate.
pub(crate) fn char_width(c: char) -> usize {
    let u = u32::from(c);
    if c.is_control()
        || matches!(u, 0x0300..=0x036F | 0x200B..=0x200F | 0x20D0..=0x20FF | 0xFE00..=0xFE0F)
    {
        return 0;
    }
    if matches!(
        u,
        0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD
    ) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: usize) {
        assert_eq!(
            text.chars().map(char_width).sum::<usize>(),
            expected,
            "{text:?}"
        );
    }

    #[test]
    fn columns_per_script() {
        check("abc", 3);
        check("需求", 4);
        check("ｶﾀｶﾅ", 4);
        check("한국어", 6);
        check("e\u{301}", 1);
        check("a\u{200B}b", 2);
        check("\u{1F600}", 2);
        check("\t\u{7}", 0);
    }
}
