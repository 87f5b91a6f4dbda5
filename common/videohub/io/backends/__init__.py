"""Video backends, one file each. To add one, write `<name>_reader.py` here with a `VideoReader` subclass
decorated `@register_backend("<name>")` (see `videohub.io.reader`); nothing else needs editing."""
