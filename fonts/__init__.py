"""Glyph fonts: where they come from (fonts.json: package, file, face, licence, sha256) and how a glyph is drawn."""
