//! A 5×7 bitmap font (upper-case letters, digits and a little punctuation), so needles can
//! carry readable clues without any font file. Each glyph is 7 rows of 5 bits, the most
//! significant of the 5 being the leftmost pixel.

/// Glyph width in font pixels.
pub const GLYPH_W: usize = 5;
/// Glyph height in font pixels.
pub const GLYPH_H: usize = 7;

/// The rows of `c` (lower case is drawn as upper case); `None` for characters the font
/// lacks.
pub fn glyph(c: char) -> Option<[u8; GLYPH_H]> {
    let rows: [u8; 7] = match c.to_ascii_uppercase() {
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 17, 10, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '?' => [14, 17, 1, 2, 4, 0, 4],
        '>' => [8, 4, 2, 1, 2, 4, 8],
        ' ' => [0; 7],
        _ => return None,
    };
    Some(rows)
}

/// Whether font pixel `(x, y)` of glyph `rows` is set.
pub fn pixel(rows: &[u8; GLYPH_H], x: usize, y: usize) -> bool {
    x < GLYPH_W && y < GLYPH_H && rows[y] >> (GLYPH_W - 1 - x) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_case() {
        for c in ('A'..='Z').chain('0'..='9') {
            let g = glyph(c).unwrap_or_else(|| panic!("missing {c}"));
            assert!(g.iter().any(|&r| r != 0), "{c} is blank");
            assert!(g.iter().all(|&r| r < 32), "{c} wider than 5");
        }
        assert_eq!(glyph('a'), glyph('A'));
        assert!(glyph('#').is_none());
        // 'T': full top bar, centre column below.
        let t = glyph('T').unwrap();
        assert!((0..5).all(|x| pixel(&t, x, 0)));
        assert!(pixel(&t, 2, 6) && !pixel(&t, 0, 6));
    }
}
