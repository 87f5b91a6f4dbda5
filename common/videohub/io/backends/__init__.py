"""Video backends, one file each. To add one, write `<name>_reader.py` here with a class decorated
`@register_backend("<name>")`: a `SeekingReader` (implement `_seek`, `_next`, `_rgb`; frame numbering from the
frame index is shared) or a `VideoReader` (implement `_decode_sorted`, and `index_of` for files FFmpeg's demuxer
does not read). See `videohub.io.reader`; nothing else needs editing."""
