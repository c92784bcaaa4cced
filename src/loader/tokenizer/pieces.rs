//! The bytes each vocabulary entry stands for in text, as llama.cpp's `token_to_piece`: GPT-2
//! byte-level entries map each character back to a byte, SentencePiece entries turn `▁` into a
//! space and `<0xXX>` into one byte; control and user-defined tokens are their own text.

use super::vocab::TokenKind;

/// The character SentencePiece vocabularies use for a space (U+2581).
pub(super) const SPACE_MARK: char = '\u{2581}';

/// How a vocabulary writes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// GPT-2's byte-to-character table (`Ġ` for a space, `Ċ` for a newline, …).
    ByteLevel,
    /// UTF-8 text with `▁` for spaces and `<0xXX>` byte tokens.
    SentencePiece,
}

/// The bytes `text`, a token of `kind`, stands for.
pub(super) fn piece(text: &str, kind: TokenKind, encoding: Encoding) -> Vec<u8> {
    match kind {
        TokenKind::Unknown | TokenKind::Control | TokenKind::UserDefined => {
            text.as_bytes().to_vec()
        }
        TokenKind::Unused => Vec::new(),
        TokenKind::Byte => byte_token(text).map(|byte| vec![byte]).unwrap_or_default(),
        TokenKind::Normal => match encoding {
            Encoding::ByteLevel => byte_level_decode(text),
            Encoding::SentencePiece => text.replace(SPACE_MARK, " ").into_bytes(),
        },
    }
}

/// The byte of a `<0xXX>` token.
pub(super) fn byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// GPT-2's byte-level alphabet, by byte: printable Latin-1 bytes stand for themselves, the
/// others are moved to U+0100 onwards in byte order.
const BYTE_CHARS: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut shifted = 0u32;
    let mut byte = 0usize;
    while byte < 256 {
        let printable = matches!(byte as u8, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[byte] = if printable {
            byte as u8 as char
        } else {
            shifted += 1;
            match char::from_u32(255 + shifted) {
                Some(character) => character,
                None => panic!("U+0100..U+0143 are characters"),
            }
        };
        byte += 1;
    }
    table
};

/// The inverse of [`BYTE_CHARS`], by code point (the alphabet ends at U+0143).
const CHAR_BYTES: [Option<u8>; 0x144] = {
    let mut table = [None; 0x144];
    let mut byte = 0usize;
    while byte < 256 {
        table[BYTE_CHARS[byte] as usize] = Some(byte as u8);
        byte += 1;
    }
    table
};

/// The byte a character of the byte-level alphabet stands for.
fn char_to_byte(character: char) -> Option<u8> {
    CHAR_BYTES.get(character as usize).copied().flatten()
}

/// Bytes of a byte-level entry. A character outside the alphabet (only in broken
/// vocabularies) keeps its UTF-8 bytes, where llama.cpp writes an `[UNK_BYTE_…]` marker.
fn byte_level_decode(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    for character in text.chars() {
        match char_to_byte(character) {
            Some(byte) => bytes.push(byte),
            None => bytes.extend_from_slice(character.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte_to_char(byte: u8) -> char {
        BYTE_CHARS[usize::from(byte)]
    }

    #[test]
    fn byte_level_alphabet_is_gpt2s() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'\t'), 'ĉ');
        assert_eq!(byte_to_char(0), '\u{100}');
        assert_eq!(byte_to_char(0xAD), '\u{143}');
        assert_eq!(byte_to_char(b'a'), 'a');
        let all: std::collections::HashSet<char> = (0..=255u8).map(byte_to_char).collect();
        assert_eq!(all.len(), 256);
        for byte in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(byte)), Some(byte));
        }
    }

    #[test]
    fn pieces_follow_token_kind() {
        let normal = piece("Ġthe", TokenKind::Normal, Encoding::ByteLevel);
        assert_eq!(normal, b" the");
        assert_eq!(
            piece("ĠâĢ¦", TokenKind::Normal, Encoding::ByteLevel),
            " …".as_bytes()
        );
        assert_eq!(
            piece("▁the", TokenKind::Normal, Encoding::SentencePiece),
            b" the"
        );
        assert_eq!(
            piece("<0x0A>", TokenKind::Byte, Encoding::SentencePiece),
            b"\n"
        );
        assert_eq!(
            piece("<|im_end|>", TokenKind::Control, Encoding::ByteLevel),
            b"<|im_end|>"
        );
        assert!(piece("<unused0>", TokenKind::Unused, Encoding::ByteLevel).is_empty());
        assert_eq!(byte_token("<0xff>"), Some(0xFF));
        assert_eq!(byte_token("<0x1>"), None);
    }
}
